"""Pure ASGI middleware: the real client address behind trusted proxies, security headers
on every response, bounded request bodies and Prometheus request metrics."""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "HTML_STYLE",
    "LOGINS",
    "TOKENS",
    "BodyLimit",
    "ClientAddress",
    "Metrics",
    "SecurityHeaders",
    "count_token",
    "replaying",
    "security_headers",
]

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


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands an already-read ``body`` over once more, then reads on."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


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
        await self.app(scope, replaying(b"".join(chunks), receive), send)


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


#: The one style sheet of jot's HTML pages; the CSP allows exactly it, by hash.
HTML_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}"
    "code{background:#f3f3f3;padding:.2rem .4rem;word-break:break-all}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(HTML_STYLE.encode()).digest()).decode()

# Every response: no MIME sniffing, no URL (with its codes and states) in Referer headers.
_ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
# Answers that set no caching of their own are per-identity or carry secrets: never stored.
_NO_STORE = (b"cache-control", b"no-store")
# HTML pages load nothing but their own style, cannot be framed (click-jacking) and post
# forms only to this origin or to the provider a login redirects to.
_HTML = [
    (
        b"content-security-policy",
        (
            f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
            "form-action 'self' http: https:; frame-ancestors 'none'"
        ).encode(),
    ),
    (b"x-frame-options", b"DENY"),
]


def security_headers(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers of :class:`SecurityHeaders` to add to a response with ``headers``."""
    names = {name.lower() for name, _ in headers}
    # A page may name its own referrer policy (the console's forms need theirs: see
    # jot.authority.web.render); everything else sends no Referer at all.
    extra = [header for header in _ALWAYS if header[0] not in names]
    if b"cache-control" not in names:
        extra.append(_NO_STORE)
    if b"content-security-policy" not in names:
        html = any(n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers)
        if html:
            extra += _HTML
    return extra


class SecurityHeaders:
    """``nosniff`` and ``Referrer-Policy`` on every response, ``no-store`` unless it says
    otherwise, and on HTML pages a strict CSP with ``frame-ancestors 'none'``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                message["headers"] = headers + security_headers(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> str | None:
    """The IP address of one X-Forwarded-For or Forwarded ``for=`` entry, without a port."""
    text = text.strip().strip('"')
    if text.startswith("["):  # RFC 7239 §6: "[2001:db8::1]:4711"
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # "192.0.2.1:4711"
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _forwarded_for(value: str) -> list[str]:
    """The ``for=`` values of a ``Forwarded`` header (RFC 7239 §4), nearest proxy last."""
    found = []
    for element in value.split(","):
        for pair in element.split(";"):
            key, _, item = pair.partition("=")
            if key.strip().lower() == "for":
                found.append(item)
    return found


class ClientAddress:
    """The client's address from ``Forwarded`` / ``X-Forwarded-For``, but only when the peer
    is a trusted proxy: anyone else could name any address and dodge every per-address limit.

    The chain is read from the nearest hop outwards, skipping trusted proxies; the first
    address that is not one is the client. Off (no proxy trusted) by default.
    """

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self._trusted: list[Network] = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def _is_trusted(self, address: str | None) -> bool:
        if address is None:
            return False
        ip = ipaddress.ip_address(address)
        return any(ip in network for network in self._trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and self._is_trusted(_address(client[0])):
            real = self._client(scope["headers"])
            if real is not None:
                scope = {**scope, "client": (real, 0)}
        await self.app(scope, receive, send)

    def _client(self, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        forwarded: list[str] = []
        x_forwarded: list[str] = []
        for name, value in headers:
            if name == b"forwarded":
                forwarded += _forwarded_for(value.decode("latin-1"))
            elif name == b"x-forwarded-for":
                x_forwarded += value.decode("latin-1").split(",")
        chain = forwarded or x_forwarded
        nearest: str | None = None
        for entry in reversed(chain):
            address = _address(entry)
            if address is None:
                break  # Obfuscated or garbled: the nearest trusted hop is all we know.
            nearest = address
            if not self._is_trusted(address):
                break
        return nearest
