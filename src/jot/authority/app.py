"""The app factory: settings in, a ready FastAPI application out."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from jot._outage import OutageLog
from jot.authority.bootstrap import bootstrap, check_root_key, undone_on_failure
from jot.authority.clock import Clock, system_clock
from jot.authority.csrf import Forms
from jot.authority.db import migrate, open_database
from jot.authority.errors import install_error_handlers
from jot.authority.keyring import Keyring
from jot.authority.lapse import upkeep
from jot.authority.limits import Limits
from jot.authority.lockbook import LockBook
from jot.authority.logs import AccessLog
from jot.authority.middleware import BodyLimit, ClientAddress, Metrics, SecurityHeaders
from jot.authority.ratelimit import FallbackLimiter, Limiter, MemoryLimiter, RedisLimiter
from jot.authority.rootkey import load_root_key
from jot.authority.routes import install_routes
from jot.authority.settings import Settings
from jot.authority.state import Authority
from jot.authority.web.routes import install as install_web

__all__ = ["Started", "create_app", "open_authority"]

log = logging.getLogger("jot.authority")

# How often an idle server checks whether the next signing key is due.
_KEY_CHECK_INTERVAL = 30.0


@dataclass
class Started:
    authority: Authority
    #: The generated bootstrap admin key on the very first start, else ``None``.
    bootstrap_key: str | None


def _limiter(settings: Settings, clock: Clock, book: LockBook) -> Limiter:
    memory = MemoryLimiter(clock)
    if settings.redis_url is None:
        return memory
    redis = RedisLimiter(settings.redis_url.get_secret_value(), timeout=settings.redis_timeout)
    # Redis caches the locks; the database is their source (refilled after a restart).
    return FallbackLimiter(redis, memory, refill=book.live)


def open_authority(
    settings: Settings, *, clock: Clock = system_clock, limiter: Limiter | None = None
) -> Started:
    """Migrate, check the root key, bootstrap, and make sure a key can sign."""
    with undone_on_failure(settings):
        db = open_database(settings)
        try:
            migrate(db)
            root = load_root_key(settings)
            check_root_key(db, root)
            key = bootstrap(db, settings, clock)
        except BaseException:
            db.dispose()
            raise
    # The keyring reads on its own small pool: a request that holds a connection must never
    # wait for a second one from the same pool.
    keys_db = open_database(settings, pool_size=2)
    keyring = Keyring(keys_db, root, settings, clock)
    keyring.refresh(force=True)
    book = LockBook(db, clock=clock)
    limits = Limits(limiter or _limiter(settings, clock, book), settings, book)
    limits.restore()
    forms = Forms(root.derive(b"csrf"), settings.issuer_url)
    authority = Authority(settings, db, keyring, limits, clock, forms)
    return Started(authority, key)


def create_app(settings: Settings | None = None, *, authority: Authority | None = None) -> FastAPI:
    """The ASGI app. Pass ``authority`` (from :func:`open_authority`) to share one in tests."""
    if authority is None:
        authority = open_authority(settings or Settings()).authority

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(_key_upkeep(authority)),
            asyncio.create_task(upkeep(authority)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    settings = authority.settings
    app = FastAPI(
        title="jot authority",
        version="1",
        summary="Issues short-lived signed identity tokens.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # FastAPI asks OpenTelemetry on every request whether a provider is configured
        # (~4 µs of environment lookups); jot's metrics are Prometheus' (/metrics).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.authority = authority
    install_error_handlers(app)
    install_routes(app)
    install_web(app)
    if settings.api_docs:
        _install_docs(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Metrics)
    app.add_middleware(SecurityHeaders)
    if settings.trusted_proxies:
        app.add_middleware(ClientAddress, trusted=settings.trusted_proxies)
    if settings.access_log:
        app.add_middleware(AccessLog)
    return app


def _install_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs``, every asset served from here (people paste access keys into
    this page: no script from a CDN may run on it). The assets come from fastapi-offline."""
    import fastapi_offline

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs/static", StaticFiles(directory=static), name="docs-static")
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title="jot authority",
        swagger_js_url="/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/docs/static/swagger-ui.css",
        swagger_favicon_url="/docs/static/favicon.png",
        swagger_ui_parameters={"validatorUrl": None},
    ).body
    # The page's one inline script is allowed by its hash, nothing else inline.
    inline = re.search(rb"<script>(.*?)</script>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(inline.group(1) if inline else b"").digest())
    policy = (
        f"default-src 'none'; script-src 'self' 'sha256-{digest.decode()}'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )

    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)


async def _key_upkeep(authority: Authority) -> None:
    """Publish the next signing key on schedule even when no request asks for one."""
    outage = OutageLog(log, "signing key upkeep")
    while True:
        await asyncio.sleep(_KEY_CHECK_INTERVAL)
        try:
            await run_in_threadpool(authority.keyring.refresh, force=True)
        except Exception as exc:  # The next round retries; the log says why, once an outage.
            outage.failed(exc)
        else:
            outage.ok()
