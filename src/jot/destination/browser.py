"""Browser sign-in at a destination: a person without a session is sent to sign in at the
authority (one sign-in serves every destination), comes back with a one-time code, and gets
a short cookie that holds the current 5-minute jot and a refresh handle, sealed under a key
only this destination holds (:mod:`jot.destination.browser_cookie`). The jot is renewed
through the authority before it expires; the authority checks the grant again each time.

The destination is an OpenID client of the authority (``jot destinations add NAME
--redirect-uri https://HOST/.jot/callback``). Its endpoints live under ``/.jot/`` on each of
its own hosts: ``signin?rd=PATH``, ``callback`` and ``signout``. ``state`` and PKCE bind the
callback to the browser that started the sign-in; tokens never travel in URLs (only the
one-time code does); the return address must be on one of the destination's own origins.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import httpx
from starlette.types import Scope

from jot.api.untrusted import UntrustedJSONError, loads
from jot.destination.browser_cookie import CookieJar, Pending, Session, cookie_key, read_cookies
from jot.destination.errors import UnavailableError
from jot.destination.identity import Identity
from jot.destination.verifier import AsyncVerifier
from jot.jose import jwt
from jot.jose.errors import InvalidTokenError, JoseError
from jot.jose.hazmat import decode_unverified

__all__ = [
    "PREFIX",
    "RENEW_BEFORE",
    "SESSION_LIFE",
    "BrowserSettings",
    "BrowserSignIn",
    "sign_in_location",
]

log = logging.getLogger("jot.destination")

#: Where the destination's own sign-in endpoints live on each of its hosts.
PREFIX = "/.jot"
#: A jot with less than this left is renewed (so a request never carries an expired one).
RENEW_BEFORE = 60.0
#: The longest a session cookie lives; the authority's sign-in may end it sooner.
SESSION_LIFE = 12 * 3600
#: How long a person has to sign in at the authority.
SIGN_IN_LIFE = 600
Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class BrowserSettings:
    issuer: str
    #: The destination's name: its OpenID client id.
    client_id: str
    client_secret: str
    #: The destination's own origins (``https://app.example``): return addresses must be on
    #: one of them, and ``ORIGIN/.jot/callback`` must be a registered redirect URI.
    public_urls: tuple[str, ...]
    #: Answer a browser without a session with 302 (Traefik, Caddy) instead of 401 (nginx,
    #: whose ``error_page 401`` sends it to ``/.jot/signin``).
    redirect: bool = False

    def __post_init__(self) -> None:
        if not self.public_urls:
            raise ValueError("browser sign-in needs the destination's public URL(s)")
        for url in self.public_urls:
            parts = urlsplit(url)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path not in ("", "/")
            ):
                raise ValueError(f"public URL {url!r} must be an origin like https://app.example")

    def origin(self, host: str | None) -> str | None:
        """The configured origin whose host is ``host`` (the request's ``Host``), if any."""
        for url in self.public_urls:
            if host and urlsplit(url).netloc.lower() == host.lower():
                return url.rstrip("/")
        return None


class _Refused(Exception):
    """A sign-in step that cannot go on: one line for the person and the log."""


def _page(status: int, text: str) -> tuple[int, Headers, bytes]:
    body = f"<!doctype html><title>Sign-in</title><p>{_escape(text)}</p>".encode()
    return status, [(b"content-type", b"text/html; charset=utf-8")], body


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class BrowserSignIn:
    """The browser half of a destination: session cookies and the ``/.jot/`` endpoints."""

    def __init__(
        self,
        settings: BrowserSettings,
        verifier: AsyncVerifier,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Any = time.time,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.jar = CookieJar(
            cookie_key(settings.client_secret, settings.client_id),
            secure=all(u.startswith("https://") for u in settings.public_urls),
        )
        self._http = http or httpx.AsyncClient(timeout=10)
        self._clock = clock
        self._endpoints: dict[str, str] | None = None
        # Requests that arrive together with the same stale cookie share one renewal.
        self._renewing: dict[str, asyncio.Task[Session | None]] = {}

    # -- the decision, for every request --------------------------------------------------

    async def identity(self, scope: Scope, resource: str | None) -> tuple[Identity | None, Headers]:
        """The identity of the request's session cookie (renewed when due, with the
        ``Set-Cookie`` that carries the new one), or ``None`` without a valid session."""
        values = [v for k, v in scope["headers"] if k == b"cookie"]
        for value in read_cookies(values, self.jar.session_name):
            session = self.jar.session(value, self._clock())
            if session is not None:
                return await self._use(session, resource)
        return None, []

    async def _use(self, session: Session, resource: str | None) -> tuple[Identity | None, Headers]:
        identity: Identity | None = None
        # Expired (or signed by a key since withdrawn): renew, or sign in again.
        with contextlib.suppress(InvalidTokenError):
            identity = await self.verifier.verify(session.token, resource=resource)
        now = self._clock()
        if identity is not None and identity.expires.timestamp() - now > RENEW_BEFORE:
            return identity, []
        renewed = await self._renew(session)
        if renewed is None:
            # The authority refused (no grant, signed out): the session is over here too.
            return None, [(b"set-cookie", self.jar.clear_cookie(self.jar.session_name))]
        identity = await self.verifier.verify(renewed.token, resource=resource)
        max_age = max(1, int(renewed.ends - now))
        cookie = self.jar.set_cookie(self.jar.session_name, self.jar.seal_session(renewed), max_age)
        return identity, [(b"set-cookie", cookie)]

    async def _renew(self, session: Session) -> Session | None:
        task = self._renewing.get(session.refresh)
        if task is None:
            task = asyncio.ensure_future(self._refresh(session))
            self._renewing[session.refresh] = task
            task.add_done_callback(lambda _t: self._renewing.pop(session.refresh, None))
        return await asyncio.shield(task)

    async def _refresh(self, session: Session) -> Session | None:
        form = {"grant_type": "refresh_token", "refresh_token": session.refresh}
        try:
            answer = await self._token_request(form)
        except _Refused as exc:
            log.info("jot browser: renewal refused: %s", exc)
            return None
        return Session(str(answer["access_token"]), session.refresh, session.ends)

    def challenge(self, scope: Scope) -> tuple[int, Headers]:
        """The answer to a browser without a session: 401 for nginx (whose ``error_page``
        redirects), or 302 to the sign-in for proxies that pass the answer on."""
        if not self.settings.redirect:
            return 401, [(b"www-authenticate", b'Bearer realm="jot"')]
        back = _header(scope, b"x-forwarded-uri") or _header(scope, b"x-original-uri") or "/"
        return 302, [(b"location", sign_in_location(back))]

    # -- the endpoints under /.jot/ ----------------------------------------------------------

    async def endpoint(self, scope: Scope) -> tuple[int, Headers, bytes]:
        """Answer ``/.jot/signin``, ``/.jot/callback`` or ``/.jot/signout``."""
        path = scope["path"].removeprefix(PREFIX)
        origin = self.settings.origin(_header(scope, b"host"))
        if origin is None:
            log.warning("jot browser: request for a host that is not one of --public-url")
            return _page(400, "This host is not one of the destination's own.")
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            if path == "/signin":
                return await self._sign_in(origin, query)
            if path == "/callback":
                return await self._callback(scope, origin, query)
            if path == "/signout":
                return self._sign_out(origin)
        except _Refused as exc:
            log.info("jot browser: sign-in refused: %s", exc)
            return _page(400, f"Sign-in failed: {exc}. Open the page again to start over.")
        except (UnavailableError, httpx.HTTPError) as exc:
            log.warning("jot browser: the authority is unreachable: %s", exc)
            return _page(503, "The sign-in service is unreachable; try again in a moment.")
        return _page(404, "Not found.")

    def _return_path(self, origin: str, query: str) -> str:
        """The page to come back to: a path here, or a URL on one of our own origins."""
        raw = query[3:] if query.startswith("rd=") else "/"
        # nginx sends $request_uri as is (a path); proxies and links send it percent-encoded.
        back = raw if raw.startswith("/") else unquote(raw)
        if not (back.isascii() and back.isprintable()):
            # A Location header carries ASCII only; the browser sent its address encoded.
            raise _Refused("the return address has characters that no address carries")
        if back.startswith("/") and not back.startswith(("//", "/\\")):
            return origin + back
        parts = urlsplit(back)
        if f"{parts.scheme}://{parts.netloc}" in {u.rstrip("/") for u in self.settings.public_urls}:
            return back
        raise _Refused(f"the return address {back[:100]!r} is not on this destination")

    async def _sign_in(self, origin: str, query: str) -> tuple[int, Headers, bytes]:
        back = self._return_path(origin, query)
        config = await self._config()
        state, verifier, nonce = (secrets.token_urlsafe(32) for _ in range(3))
        pending = Pending(state, verifier, nonce, back, origin, self._clock() + SIGN_IN_LIFE)
        params = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": origin + PREFIX + "/callback",
            "scope": "openid profile groups",
            "state": state,
            "nonce": nonce,
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
        }
        cookie = self.jar.set_cookie(
            self.jar.state_name(state), self.jar.seal_pending(pending), SIGN_IN_LIFE
        )
        location = f"{config['authorization_endpoint']}?{urlencode(params)}"
        return 302, [(b"location", location.encode()), (b"set-cookie", cookie)], b""

    async def _callback(self, scope: Scope, origin: str, query: str) -> tuple[int, Headers, bytes]:
        params = dict(parse_qsl(query))
        state = params.get("state", "")
        values = [v for k, v in scope["headers"] if k == b"cookie"]
        name = self.jar.state_name(state) if state else ""
        pending = next(
            (p for v in read_cookies(values, name) if (p := self.jar.pending(v, self._clock()))),
            None,
        )
        # The state names a sign-in this browser started, here, not long ago (CSRF, RFC 6749
        # §10.12); one from another browser has no cookie to match.
        if (
            pending is None
            or not secrets.compare_digest(pending.state, state)
            or pending.origin != origin
        ):
            raise _Refused("this sign-in was not started in this browser")
        if "error" in params:
            raise _Refused(f"the authority answered {params['error'][:60]!r}")
        if params.get("iss", self.settings.issuer) != self.settings.issuer:
            raise _Refused("the answer comes from another issuer")  # RFC 9207 mix-up defense.
        answer = await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": params.get("code", ""),
                "redirect_uri": origin + PREFIX + "/callback",
                "code_verifier": pending.verifier,
            }
        )
        await self._check_id_token(str(answer.get("id_token", "")), pending.nonce)
        session = Session(
            str(answer["access_token"]),
            str(answer.get("refresh_token", "")),
            self._clock() + SESSION_LIFE,
        )
        sealed = self.jar.seal_session(session)
        headers = [
            (b"location", pending.back.encode("latin-1")),
            (b"set-cookie", self.jar.set_cookie(self.jar.session_name, sealed, SESSION_LIFE)),
            (b"set-cookie", self.jar.clear_cookie(name)),
        ]
        log.info("jot browser: signed in")
        return 303, headers, b""

    async def _check_id_token(self, id_token: str, nonce: str) -> None:
        """OIDC Core §3.1.3.7: signed by the authority, for this client, with our nonce."""
        try:
            # The kid only picks the key set to fetch; the signature check decides.
            kid = decode_unverified(id_token).header.get("kid")
            keys = await self.verifier.jwks.aget(kid if isinstance(kid, str) else None)
            claims = jwt.decode(
                id_token,
                keys,
                issuer=self.settings.issuer,
                audience=self.settings.client_id,
                typ="JWT",
                require=("exp", "iat", "sub"),
                leeway=60,
                now=self._clock(),
            )
        except JoseError as exc:
            raise _Refused(f"the ID token is not valid ({exc.error})") from None
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise _Refused("the ID token's nonce does not match this sign-in")

    def _sign_out(self, origin: str) -> tuple[int, Headers, bytes]:
        """Forget the session here, then sign out at the authority too (where every other
        destination's session ends at its next renewal)."""
        query = urlencode({"client_id": self.settings.client_id})
        location = f"{self.settings.issuer}/oidc/logout?{query}"
        headers = [
            (b"location", location.encode()),
            (b"set-cookie", self.jar.clear_cookie(self.jar.session_name)),
        ]
        return 303, headers, b""

    # -- talking to the authority ----------------------------------------------------------

    async def _config(self) -> dict[str, str]:
        if self._endpoints is None:
            response = await self._http.get(
                f"{self.settings.issuer}/.well-known/openid-configuration"
            )
            try:
                found = loads(response.content)
            except UntrustedJSONError:
                found = None
            if response.status_code != 200 or not isinstance(found, dict):
                raise UnavailableError("the authority's discovery document is unavailable")
            self._endpoints = {k: v for k, v in found.items() if isinstance(v, str)}
        return self._endpoints

    async def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        config = await self._config()
        auth = httpx.BasicAuth(self.settings.client_id, self.settings.client_secret)
        response = await self._http.post(config["token_endpoint"], data=form, auth=auth)
        try:
            body = loads(response.content)
        except UntrustedJSONError:
            body = None
        if not isinstance(body, dict):
            raise UnavailableError(f"the token endpoint answered {response.status_code}")
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise _Refused(
                f"{body.get('error', 'refused')}: {str(body.get('error_description'))[:200]}"
            )
        return body

    async def aclose(self) -> None:
        await self._http.aclose()


def sign_in_location(back: str) -> bytes:
    """The ``Location`` that starts a sign-in coming back to ``back`` (a path here)."""
    return f"{PREFIX}/signin?rd={quote(back, safe='')}".encode("latin-1")


def _s256(verifier: str) -> str:
    """The PKCE S256 challenge (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
