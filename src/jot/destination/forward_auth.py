"""Forward auth: the decision service behind nginx ``auth_request``, Traefik ``forwardAuth``
and Caddy ``forward_auth``.

The proxy sends each request's headers here first. The answer is 200 with the identity in
``X-Jot-User``, ``X-Jot-Subject``, ``X-Jot-Groups`` and ``X-Jot-Roles`` (which the proxy copies
to the upstream request), 401 with ``WWW-Authenticate``, 403, 400 for a request with two
``Authorization`` credentials, or 503 when the authority has never been reachable. The proxy
chooses a sub-resource with ``?resource=web.x`` on the auth URL (never from a client header,
which a client could forge).

With ``browser=`` (:mod:`jot.destination.browser`), a request without ``Authorization`` is
decided by its session cookie instead: 200 (with a ``Set-Cookie`` when the jot inside was
renewed), or, without a session, 401 for nginx (``error_page 401`` sends the browser to
``/.jot/signin``) or 302 there for Traefik and Caddy; the ``/.jot/`` endpoints are served here.
API clients with ``Authorization: Bearer`` are answered exactly as without ``browser=``.

Header values are comma-separated lists; every byte outside a small safe set (including a
comma inside a name) is percent-encoded UTF-8, so that a group name cannot forge a second
entry or a second header.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qs, quote

from starlette.types import Receive, Scope, Send

from jot.destination._core import REFUSED, allowed, refuse, request_token
from jot.destination.browser import PREFIX, AsyncBrowserSignIn
from jot.destination.identity import Identity
from jot.destination.settings import CACHE_SIZE
from jot.destination.verifier import AsyncVerifier

__all__ = ["IDENTITY_HEADERS", "ForwardAuth", "encode_header", "identity_headers"]

log = logging.getLogger("jot.destination")

IDENTITY_HEADERS = ("x-jot-user", "x-jot-subject", "x-jot-groups", "x-jot-roles")
_SAFE = "@:+/=!$&'()*;~"
# Values made only of these need no quoting (the common case: skip quote()'s work).
_PLAIN = re.compile(r"[A-Za-z0-9@:+/=!$&'()*;~._-]*")


def encode_header(values: Iterable[str]) -> str:
    return ",".join(v if _PLAIN.fullmatch(v) else quote(v, safe=_SAFE) for v in values)


_IdentityKey = tuple[str, str, tuple[str, ...], frozenset[str]]
_Encoded = tuple[tuple[bytes, bytes], ...]
_NAMES = tuple(name.encode() for name in IDENTITY_HEADERS)


def identity_headers(identity: Identity) -> list[tuple[bytes, bytes]]:
    return list(_encode(identity))


def _encode(identity: Identity) -> _Encoded:
    values = (
        encode_header([identity.name]),
        encode_header([identity.subject]),
        encode_header(identity.groups),
        encode_header(sorted(identity.roles)),
    )
    return tuple((k, v.encode("ascii")) for k, v in zip(_NAMES, values, strict=True))


class ForwardAuth:
    """The forward-auth ASGI app; ``GET /healthz`` answers 200 without a token."""

    def __init__(
        self,
        verifier: AsyncVerifier,
        *,
        require_grant: bool = True,
        realm: str | None = None,
        browser: AsyncBrowserSignIn | None = None,
    ) -> None:
        self.verifier = verifier
        self.require_grant = require_grant
        self.realm = realm or verifier.settings.audience
        self.browser = browser
        # The same users come back again and again: their headers are encoded once. Sized
        # like the verifier's cache (the one setting; the default size when the token cache
        # is off: encoding is a pure function); a flood of identities starts it over.
        self._encoded: dict[_IdentityKey, _Encoded] = {}
        cache = verifier.cache
        self._encoded_size = cache.max_entries if cache is not None else CACHE_SIZE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == "/healthz":
            await _respond(send, 200, (), b"ok")
            return
        if self.browser is not None and scope["path"].startswith(PREFIX + "/"):
            status, page_headers, body = await self.browser.endpoint(scope)
            length = (b"content-length", str(len(body)).encode())
            page_headers.append(length)
            await send({"type": "http.response.start", "status": status, "headers": page_headers})
            await send({"type": "http.response.body", "body": body})
            return
        status, headers = await self._decide(scope)
        # Every decision has an empty body: one prebuilt list of the fixed headers.
        await send(
            {"type": "http.response.start", "status": status, "headers": [*headers, *_EMPTY]}
        )
        await send(_NO_BODY)

    async def decide(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]]]:
        """The status and the headers of the answer to this request."""
        status, headers = await self._decide(scope)
        return status, list(headers)

    async def _decide(self, scope: Scope) -> tuple[int, Sequence[tuple[bytes, bytes]]]:
        cookie: list[tuple[bytes, bytes]] = []
        try:
            values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"]
            if self.browser is not None and not values:
                found, cookie = await self.browser.identity(scope, _resource(scope))
                if found is None:
                    status, headers = self.browser.challenge(scope)
                    return status, [*headers, *cookie]
                identity = found
            else:
                identity = await self.verifier.verify(
                    request_token(values), resource=_resource(scope)
                )
            allowed(identity, self.require_grant)
        except REFUSED as exc:
            refusal = refuse(exc, self.realm)
            refusal.log(log, "forward-auth")
            return refusal.status, [*refusal.headers, *cookie]
        except ValueError:
            log.error("jot forward-auth: resource outside this destination (proxy configuration)")
            return 500, []
        if cookie:
            return 200, [*self._headers(identity), *cookie]
        return 200, self._headers(identity)

    def _headers(self, identity: Identity) -> _Encoded:
        key = (identity.name, identity.subject, identity.groups, identity.roles)
        headers = self._encoded.get(key)
        if headers is None:
            headers = _encode(identity)
            if len(self._encoded) >= self._encoded_size:
                self._encoded.clear()
            self._encoded[key] = headers
        return headers

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.verifier.aclose()
                if self.browser is not None:
                    await self.browser.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _resource(scope: Scope) -> str | None:
    if not scope.get("query_string"):
        return None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("resource")
    return values[-1] if values else None


_FIXED = ((b"cache-control", b"no-store"), (b"content-type", b"text/plain"))
_EMPTY = (*_FIXED, (b"content-length", b"0"))
_NO_BODY = {"type": "http.response.body", "body": b""}


async def _respond(
    send: Send, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes
) -> None:
    headers = [*headers, *_FIXED, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
