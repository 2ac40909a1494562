"""A small OIDC provider that misbehaves on request: each ``mode`` breaks one rule.

It runs on a free loopback port in a thread (stdlib HTTP server) and signs with jot.jose
keys. ``/authorize`` answers at once with a code (no login page); ``/token`` returns the
ID token that ``mode`` asks for.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from jot.jose import jwk, jwt
from jot.jose._b64 import b64encode

RSA = jwk.generate("RSA", size=2048, alg="RS256")
EC = jwk.generate("P-256", alg="ES256")


class Hostile(ThreadingHTTPServer):
    daemon_threads = True
    mode = "ok"
    discovery_mode = "ok"
    client_id = "jot-hostile"
    email = "mallory@example.com"
    groups: list[str] = ["dev"]  # noqa: RUF012 - one server per test
    nonces: dict[str, str]

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _id_token(server: Hostile, nonce: str) -> str:
    now = int(time.time())
    mode = server.mode
    claims: dict[str, Any] = {
        "iss": server.issuer,
        "sub": "mallory",
        "aud": server.client_id,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "email": server.email,
        "groups": server.groups,
    }
    if mode == "wrong_issuer":
        claims["iss"] = "http://127.0.0.1:1"
    elif mode == "wrong_audience":
        claims["aud"] = "another-client"
    elif mode == "expired":
        claims.update(iat=now - 3600, exp=now - 1800)
    elif mode == "stale_iat":
        claims["iat"] = now - 3600
    elif mode == "long_sub":
        claims["sub"] = "s" * 256
    elif mode == "missing_nonce":
        del claims["nonce"]
    elif mode == "replayed_nonce":
        claims["nonce"] = "a-nonce-from-an-earlier-login"
    elif mode == "several_audiences":
        claims["aud"] = [server.client_id, "another-client"]
    if mode == "alg_none":
        header = b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header.decode()}.{b64encode(json.dumps(claims).encode()).decode()}."
    if mode == "alg_not_listed":
        return jwt.encode(claims, EC)
    token = jwt.encode(claims, RSA)
    if mode == "bad_signature":
        head, body, sig = token.split(".")
        return f"{head}.{body}.{sig[:-4]}AAAA"
    return token


class _Handler(BaseHTTPRequestHandler):
    server: Hostile

    def _json(self, body: Any, status: int = 200) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/.well-known/openid-configuration":
            self._discovery()
        elif parts.path == "/jwks":
            self._json({"keys": [RSA.public().to_dict(), EC.public().to_dict()]})
        elif parts.path == "/authorize":
            code = secrets.token_urlsafe(16)
            self.server.nonces[code] = query.get("nonce", "")
            target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parts.path == "/userinfo":
            self._json({"sub": "mallory", "email": self.server.email})
        else:
            self._json({"error": "not_found"}, 404)

    def _discovery(self) -> None:
        mode, issuer = self.server.discovery_mode, self.server.issuer
        if mode == "garbage":
            self._json(b"<html>surprise</html>")
            return
        if mode == "error":
            self._json({"error": "boom"}, 500)
            return
        if mode == "not_found":
            self._json({"error": "not_found"}, 404)
            return
        self._json(
            {
                "issuer": "http://127.0.0.1:1" if mode == "wrong_issuer" else issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["none"]
                if mode == "none_only"
                else ["RS256"],
            }
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if self.server.mode == "token_garbage":
            self._json(b"\x00\x01 not json")
            return
        if self.server.mode == "token_error":
            self._json({"error": "invalid_grant"}, 400)
            return
        nonce = self.server.nonces.pop(form.get("code", ""), "")
        self._json(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "id_token": _id_token(self.server, nonce),
                "expires_in": 300,
            }
        )

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def hostile_idp() -> Iterator[Hostile]:
    server = Hostile(("127.0.0.1", 0), _Handler)
    server.nonces = {}
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
