"""Pure ASGI middleware: bounded request bodies and Prometheus request metrics."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LOGINS", "TOKENS", "BodyLimit", "Metrics", "count_token"]

REQUESTS = Counter("jot_http_requests", "HTTP requests", ["method", "route", "status"])
TOKENS = Counter("jot_tokens_issued", "Tokens issued", ["destination"])
LOGINS = Counter("jot_logins", "Password logins", ["result"])
LATENCY = Histogram("jot_http_request_seconds", "HTTP request latency", ["method", "route"])

# A labelled child looked up once: ``labels()`` checks and locks on every call, which shows on
# the token hot path. The labels are bounded (route templates, destinations), the caches too.
_token_counter = functools.lru_cache(maxsize=1024)(TOKENS.labels)


@functools.lru_cache(maxsize=1024)
def _request_metrics(method: str, route: str, status: int) -> tuple[Any, Any]:
    return REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)


def count_token(destination: str) -> None:
    _token_counter(destination).inc()


async def _send_413(send: Send) -> None:
    body = json.dumps({"error": "too_large", "message": "the request body is too large"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse bodies over ``max_bytes`` (by ``Content-Length`` or while streaming) with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        has_body = False
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await _send_413(send)
                return
            has_body = has_body or name in (b"content-length", b"transfer-encoding")
        if not has_body:
            # No body announced (a GET, a long-poll): nothing to bound, nothing to buffer.
            await self.app(scope, receive, send)
            return
        # Bodies are small JSON documents: read them whole here, then replay them, so the
        # limit holds even without Content-Length (chunked uploads).
        chunks: list[bytes] = []
        seen, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await _send_413(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class Metrics:
    """Count requests and time them per route template (not per raw path: bounded labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route: Any = scope.get("route")
            label = getattr(route, "path", "unmatched")
            requests, latency = _request_metrics(scope["method"], label, status)
            requests.inc()
            latency.observe(time.perf_counter() - start)
