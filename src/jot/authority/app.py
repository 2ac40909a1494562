"""The app factory: settings in, a ready FastAPI application out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from jot.authority.bootstrap import bootstrap, check_root_key, undone_on_failure
from jot.authority.clock import Clock, system_clock
from jot.authority.db import Database, migrate
from jot.authority.errors import install_error_handlers
from jot.authority.keyring import Keyring
from jot.authority.logs import AccessLog
from jot.authority.middleware import BodyLimit, Metrics
from jot.authority.ratelimit import Limiter, LimiterPolicy, MemoryLimiter, RedisLimiter
from jot.authority.rootkey import load_root_key
from jot.authority.routes import install_routes
from jot.authority.settings import Settings
from jot.authority.state import Authority

__all__ = ["Started", "create_app", "open_authority"]

log = logging.getLogger("jot.authority")

# How often an idle server checks whether the next signing key is due.
_KEY_CHECK_INTERVAL = 30.0


@dataclass
class Started:
    authority: Authority
    #: The generated bootstrap admin key on the very first start, else ``None``.
    bootstrap_key: str | None


def _limiter(settings: Settings) -> Limiter:
    policy = LimiterPolicy(
        max_failures=settings.login_max_failures,
        window=settings.login_window,
        base=settings.lockout_base,
        cap=settings.lockout_max,
    )
    if settings.redis_url is not None:
        return RedisLimiter(settings.redis_url.get_secret_value(), policy)
    return MemoryLimiter(policy)


def open_authority(
    settings: Settings, *, clock: Clock = system_clock, limiter: Limiter | None = None
) -> Started:
    """Migrate, check the root key, bootstrap, and make sure a key can sign."""
    with undone_on_failure(settings):
        db = Database(settings.sqlalchemy_url, synchronous=settings.sqlite_synchronous)
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
    keys_db = Database(
        settings.sqlalchemy_url, synchronous=settings.sqlite_synchronous, pool_size=2
    )
    keyring = Keyring(keys_db, root, settings, clock)
    keyring.refresh(force=True)
    authority = Authority(settings, db, keyring, limiter or _limiter(settings), clock)
    return Started(authority, key)


def create_app(settings: Settings | None = None, *, authority: Authority | None = None) -> FastAPI:
    """The ASGI app. Pass ``authority`` (from :func:`open_authority`) to share one in tests."""
    if authority is None:
        authority = open_authority(settings or Settings()).authority

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_key_upkeep(authority))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="jot authority",
        version="1",
        summary="Issues short-lived signed identity tokens.",
        lifespan=lifespan,
    )
    app.state.authority = authority
    install_error_handlers(app)
    install_routes(app)
    app.add_middleware(BodyLimit, max_bytes=authority.settings.max_body_bytes)
    app.add_middleware(Metrics)
    if authority.settings.access_log:
        app.add_middleware(AccessLog)
    return app


async def _key_upkeep(authority: Authority) -> None:
    """Publish the next signing key on schedule even when no request asks for one."""
    while True:
        await asyncio.sleep(_KEY_CHECK_INTERVAL)
        try:
            await run_in_threadpool(authority.keyring.refresh, force=True)
        except Exception:  # The next round retries; the log says what went wrong.
            log.exception("signing key upkeep failed")
