"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from jot.authority.state import Authority

__all__ = ["healthz", "metrics", "readyz"]

log = logging.getLogger("jot.authority")


async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _ready(authority: Authority) -> None:
    authority.db.ping()
    authority.keyring.signer()


async def readyz(request: Request) -> JSONResponse:
    """The database answers and a key can sign."""
    try:
        await run_in_threadpool(_ready, request.app.state.authority)
    except Exception as exc:  # Any failure means "not ready"; the log says why.
        log.warning("not ready: %s", exc)
        return JSONResponse({"error": "unavailable", "message": "not ready"}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
