"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
import os

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from jot._outage import OutageLog
from jot.authority.access import Need
from jot.authority.context import Context, run
from jot.authority.state import Authority

__all__ = ["MULTIPROCESS_ENV", "healthz", "metrics", "readyz"]

log = logging.getLogger("jot.authority")

#: Set (to a directory) by ``jot server --workers N``: every worker writes its metrics there and
#: any of them answers a scrape with the sum of all (prometheus_client's multiprocess mode).
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


_NOT_READY = OutageLog(log, "readiness check (/readyz)")

#: Seconds /readyz may take: a load balancer's health check must not hang with the database.
READY_BUDGET = 3.0


def _ready(authority: Authority) -> dict[str, str]:
    authority.db.ping()
    authority.keyring.signer()
    body = {"status": "ready"}
    # Redis is no dependency (in-process limits answer without it): reported, not required.
    health = getattr(authority.limits.store, "health", None)
    if health is not None:
        body["redis"] = health()
    return body


async def readyz(request: Request) -> JSONResponse:
    """The database answers (within :data:`READY_BUDGET`) and a key can sign; the body says
    whether Redis answers (``"redis": "ok"`` or ``"unavailable"``) when one is configured."""
    authority: Authority = request.app.state.authority
    try:
        body = await asyncio.wait_for(run_in_threadpool(_ready, authority), READY_BUDGET)
    except Exception as exc:  # Any failure means "not ready"; the log says why, once.
        reason = f"no answer within {READY_BUDGET:g} s" if isinstance(exc, TimeoutError) else exc
        _NOT_READY.failed(reason)
        return JSONResponse({"error": "unavailable", "message": "not ready"}, status_code=503)
    _NOT_READY.ok()
    return JSONResponse(body)


def _exposition(_ctx: Context) -> bytes:
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def metrics(request: Request) -> Response:
    """Prometheus metrics, for an access key with the ``metrics`` (or ``view``, ``admin``) role
    on ``jot``: they name destinations and versions, which are not for anonymous eyes."""
    body = await run_in_threadpool(run, request, Need.METRICS, _exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
