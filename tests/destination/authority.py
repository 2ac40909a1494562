"""An in-test stand-in for the authority: exactly the HTTP contract a destination uses.

``/.well-known/openid-configuration``, ``/.well-known/jwks.json`` (with ``Cache-Control``),
and ``GET /api/grants?destination=`` with ``ETag``/``If-None-Match``/``wait``. Served as an
``httpx.MockTransport`` handler (unit tests) or a Starlette app (real HTTP, e2e tests).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jot.jose import Key, jwk, jwt

ISSUER = "http://127.0.0.1:9"
ACCESS_KEY = "ak_test_machine_key"


@dataclass
class FakeAuthority:
    issuer: str = ISSUER
    keys: list[Key] = field(default_factory=lambda: [jwk.generate("Ed25519")])
    published: list[Key] | None = None  # Defaults to the public halves of ``keys``.
    grants: list[dict[str, Any]] = field(default_factory=list)
    max_age: int | None = 300
    down: bool = False
    jwks_body: bytes | None = None  # Overrides the JWKS body (size-cap tests).
    requests: list[str] = field(default_factory=list)
    revision: int = 1
    #: Deny entries sent with the grants (``kind``, ``value``, ``until``).
    revoked: list[dict[str, Any]] = field(default_factory=list)

    @property
    def signing_key(self) -> Key:
        return self.keys[0]

    def jwks_fetches(self) -> int:
        return sum(1 for path in self.requests if path == "/.well-known/jwks.json")

    def token(self, *, key: Key | None = None, typ: str = "jot+jwt", **overrides: Any) -> str:
        now = int(time.time()) if "now" not in overrides else overrides.pop("now")
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "u_alice",
            "aud": "web",
            "name": "alice@example.com",
            "groups": ["ops", "system:masters"],
            "iat": now,
            "nbf": now - 300,
            "exp": now + 300,
            "nonce": secrets.token_urlsafe(8),
            "jti": secrets.token_urlsafe(12),
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or self.signing_key, typ=typ)

    def set_grants(self, grants: list[tuple[str, ...]]) -> None:
        """Grants as ``(subject, role, resource)``, or with a fourth item: when it lapses
        (ISO 8601)."""
        self.grants = [
            {
                "id": f"g{i}",
                "subject": s,
                "role": r,
                "resource": res,
                "created": "2026-01-01T00:00:00Z",
                **({"expires": rest[0]} if rest else {}),
            }
            for i, (s, r, res, *rest) in enumerate(grants)
        ]
        self.revision += 1

    # -- the contract ---------------------------------------------------------------------
    def respond(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(path)
        if self.down:
            return 503, {}, b"down"
        if path == "/.well-known/openid-configuration":
            body = {"issuer": self.issuer, "jwks_uri": self.issuer + "/.well-known/jwks.json"}
            return 200, {"content-type": "application/json"}, json.dumps(body).encode()
        if path == "/.well-known/jwks.json":
            published = self.published if self.published is not None else self.keys
            body_bytes = (
                self.jwks_body
                or json.dumps({"keys": [k.public().to_dict() for k in published]}).encode()
            )
            extra = {"cache-control": f"max-age={self.max_age}"} if self.max_age is not None else {}
            return 200, {"content-type": "application/json", **extra}, body_bytes
        if path in ("/api/whoami", "/api/destinations/" + path.rpartition("/")[2]):
            # What a connector checks at start: its key, its role, its destination.
            if headers.get("authorization") != "Bearer " + ACCESS_KEY:
                return 401, {}, b'{"error":"unauthorized","message":"no"}'
            stamp = "2026-01-01T00:00:00Z"
            body = (
                {"id": "c1", "name": "connector", "kind": "machine", "groups": [],
                 "access_key": "k1", "roles": ["connector"]}
                if path == "/api/whoami"
                else {"id": "d1", "name": path.rpartition("/")[2], "kind": "http",
                      "lifetime": 300, "group_narrowing": "all", "created": stamp,
                      "updated": stamp}
            )  # fmt: skip
            return 200, {"content-type": "application/json"}, json.dumps(body).encode()
        if path == "/api/grants":
            if headers.get("authorization") != "Bearer " + ACCESS_KEY:
                return 401, {}, b'{"error":"unauthorized","message":"no"}'
            etag = f'"{self.revision}"'
            if headers.get("if-none-match") == etag:
                return 304, {"etag": etag}, b""
            items = [
                g for g in self.grants if g["resource"].split(".")[0] == query.get("destination")
            ]
            body = {"items": items, "revision": self.revision, "revoked": self.revoked}
            return (
                200,
                {"etag": etag, "content-type": "application/json"},
                json.dumps(body).encode(),
            )
        return 404, {}, b"not found"

    def handler(self, request: httpx.Request) -> httpx.Response:
        status, headers, body = self.respond(
            request.method,
            request.url.path,
            dict(request.url.params),
            {k.lower(): v for k, v in request.headers.items()},
        )
        return httpx.Response(status, headers=headers, content=body)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))

    def app(self) -> Starlette:
        lock = threading.Lock()

        async def endpoint(request: Request) -> Response:
            with lock:
                status, headers, body = self.respond(
                    request.method,
                    request.url.path,
                    dict(request.query_params),
                    {k.lower(): v for k, v in request.headers.items()},
                )
            return Response(body, status_code=status, headers=headers)

        paths = [
            "/.well-known/openid-configuration", "/.well-known/jwks.json", "/api/grants",
            "/api/whoami", "/api/destinations/{name}",
        ]  # fmt: skip
        return Starlette(routes=[Route(p, endpoint) for p in paths])


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float | None = None) -> None:
        self.now = float(int(time.time())) if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
