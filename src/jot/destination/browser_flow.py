"""Browser sign-in at a destination, without I/O: every decision of the session cookie and
the ``/.jot/`` endpoints, written once as generators that *yield* what they need from the
outside world (an HTTP exchange with the authority, a token verified, a key set) and are
driven by a sync or an async twin (:mod:`jot.destination.browser`), the way httpx drives its
``auth_flow``. Forward auth, the generic proxy and the ASGI and WSGI middleware all sign
browsers in through these flows.

The destination is an OpenID client of the authority (``jot destinations add NAME
--redirect-uri https://HOST/.jot/callback``). Its endpoints live under ``/.jot/`` on each of
its own hosts: ``signin?rd=PATH``, ``callback`` and ``signout``. ``state`` and PKCE bind the
callback to the browser that started the sign-in; tokens never travel in URLs (only the
one-time code does); the return address must be on one of the destination's own origins.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import httpx

from jot.api.untrusted import UntrustedJSONError, loads
from jot.destination.browser_cookie import CookieJar, Pending, Session, cookie_key, read_cookies
from jot.destination.errors import UnavailableError
from jot.destination.identity import Identity
from jot.jose import KeySet, jwt
from jot.jose.errors import InvalidTokenError, JoseError
from jot.jose.hazmat import decode_unverified

__all__ = [
    "PREFIX",
    "RENEW_BEFORE",
    "SESSION_LIFE",
    "SIGN_IN_LIFE",
    "BrowserFlows",
    "BrowserSettings",
    "Fetch",
    "Flow",
    "Gate",
    "Headers",
    "Keys",
    "Page",
    "Renew",
    "Scope",
    "Verify",
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
#: What the flows read of a request: an ASGI HTTP scope, or one built like it (``method``,
#: ``path`` percent-decoded, ``raw_path``, ``query_string``, lower-case ``headers``).
Scope = Mapping[str, Any]
#: An answer the flows make themselves: status, headers, body.
Page = tuple[int, Headers, bytes]
T = TypeVar("T")
_NO_STORE = (b"cache-control", b"no-store")


@dataclass(frozen=True)
class Fetch:
    """Send this to the authority; the driver sends back the ``httpx.Response``. ``form``
    makes it a POST with the destination's client credentials (``client_secret_basic``)."""

    url: str
    form: dict[str, str] | None = None


@dataclass(frozen=True)
class Verify:
    """Verify this jot with the destination's verifier; sends back the ``Identity``."""

    token: str
    resource: str | None


@dataclass(frozen=True)
class Keys:
    """The issuer's key set for ``kid``; sends back a ``KeySet``."""

    kid: str | None


@dataclass(frozen=True)
class Renew:
    """Run :meth:`BrowserFlows.refresh` for this session; sends back its result. A step of
    its own so that the async twin can share one renewal among requests that arrive
    together with the same stale cookie."""

    session: Session


#: A flow yields steps, is sent their results (or has their exception thrown in), and
#: returns ``T``.
Flow = Generator[Fetch | Verify | Keys | Renew, Any, T]


@dataclass(frozen=True)
class BrowserSettings:
    issuer: str
    #: The destination's name: its OpenID client id.
    client_id: str
    client_secret: str
    #: The destination's own origins (``https://app.example``): return addresses must be on
    #: one of them, and ``ORIGIN/.jot/callback`` must be a registered redirect URI.
    public_urls: tuple[str, ...]
    #: Forward auth only: answer a browser without a session with 302 (Traefik, Caddy)
    #: instead of 401 (nginx, whose ``error_page 401`` sends it to ``/.jot/signin``).
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


@dataclass(frozen=True)
class Gate:
    """What browser sign-in makes of one request to an app (middleware, proxy): ``answer``
    it instead of the app, or let it through as ``identity`` (``None``: no session, and
    the caller takes anonymous requests) with ``cookies`` added to the app's answer."""

    answer: Page | None
    identity: Identity | None = None
    cookies: Headers | None = None


class _Refused(Exception):
    """A sign-in step that cannot go on: one line for the person and the log."""


def _page(status: int, text: str) -> Page:
    body = f"<!doctype html><title>Sign-in</title><p>{_escape(text)}</p>".encode()
    return status, [(b"content-type", b"text/html; charset=utf-8")], body


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class BrowserFlows:
    """The browser half of a destination: session cookies and the ``/.jot/`` endpoints."""

    def __init__(self, settings: BrowserSettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.jar = CookieJar(
            cookie_key(settings.client_secret, settings.client_id),
            secure=all(u.startswith("https://") for u in settings.public_urls),
        )
        self.clock = clock
        self._endpoints: dict[str, str] | None = None

    # -- the decision, for every request --------------------------------------------------

    def gate(self, scope: Scope, *, optional: bool = False) -> Flow[Gate | None]:
        """An app's decision (the middleware, the proxy): the ``/.jot/`` endpoints, then the
        session cookie of a request without ``Authorization`` (``None``: it has one, decide
        the bearer token as without browser sign-in). The caller checks the grant."""
        if scope["path"].startswith(PREFIX + "/"):
            return Gate((yield from self.endpoint(scope)))
        if any(name == b"authorization" for name, _ in scope["headers"]):
            return None
        identity, cookies = yield from self.identity(scope, None)
        if identity is None and not optional:
            return Gate(self.app_challenge(scope, cookies))
        return Gate(None, identity, cookies)

    def identity(self, scope: Scope, resource: str | None) -> Flow[tuple[Identity | None, Headers]]:
        """The identity of the request's session cookie (renewed when due, with the
        ``Set-Cookie`` that carries the new one), or ``None`` without a valid session."""
        values = [v for k, v in scope["headers"] if k == b"cookie"]
        for value in read_cookies(values, self.jar.session_name):
            session = self.jar.session(value, self.clock())
            if session is not None:
                return (yield from self._use(session, resource))
        return None, []

    def _use(self, session: Session, resource: str | None) -> Flow[tuple[Identity | None, Headers]]:
        # Expired (or signed by a key since withdrawn): renew, or sign in again. (try, not
        # contextlib.suppress: that cost 0.4 µs per request.)
        try:
            identity: Identity | None = yield Verify(session.token, resource)
        except InvalidTokenError:
            identity = None
        now = self.clock()
        if identity is not None and identity.expires.timestamp() - now > RENEW_BEFORE:
            return identity, []
        renewed: Session | None = yield Renew(session)
        if renewed is None:
            # The authority refused (no grant, signed out): the session is over here too.
            return None, [(b"set-cookie", self.jar.clear_cookie(self.jar.session_name))]
        identity = yield Verify(renewed.token, resource)
        max_age = max(1, int(renewed.ends - now))
        cookie = self.jar.set_cookie(self.jar.session_name, self.jar.seal_session(renewed), max_age)
        return identity, [(b"set-cookie", cookie)]

    def refresh(self, session: Session) -> Flow[Session | None]:
        """The session with a new jot from the authority (which checks the grant again)."""
        form = {"grant_type": "refresh_token", "refresh_token": session.refresh}
        try:
            answer = yield from self._token_request(form)
        except _Refused as exc:
            log.info("jot browser: renewal refused: %s", exc)
            return None
        return Session(str(answer["access_token"]), session.refresh, session.ends)

    def challenge(self, scope: Scope) -> tuple[int, Headers]:
        """Forward auth's answer to a browser without a session: 401 for nginx (whose
        ``error_page`` redirects), or 302 to the sign-in for proxies that pass it on."""
        if not self.settings.redirect:
            return 401, [(b"www-authenticate", b'Bearer realm="jot"')]
        back = header(scope, b"x-forwarded-uri") or header(scope, b"x-original-uri") or "/"
        return 302, [(b"location", sign_in_location(back))]

    def app_challenge(self, scope: Scope, cookies: Headers) -> Page:
        """An app's answer to a browser without a session: a GET is sent to sign in and
        comes back to the same address; anything else (a form post, a fetch) gets 401."""
        if scope["method"] not in ("GET", "HEAD"):
            plain = (b"content-type", b"text/plain")
            return 401, [plain, _NO_STORE, *cookies], b"Sign in first."
        raw = scope.get("raw_path") or quote(scope["path"]).encode()
        query = scope.get("query_string", b"")
        back = (raw + (b"?" + query if query else b"")).decode("latin-1")
        return 302, [(b"location", sign_in_location(back)), _NO_STORE, *cookies], b""

    # -- the endpoints under /.jot/ ----------------------------------------------------------

    def endpoint(self, scope: Scope) -> Flow[Page]:
        """Answer ``/.jot/signin``, ``/.jot/callback`` or ``/.jot/signout``; never stored by
        a cache (each answer is this browser's: its state, its cookies)."""
        status, headers, body = yield from self._endpoint(scope)
        return status, [*headers, _NO_STORE], body

    def _endpoint(self, scope: Scope) -> Flow[Page]:
        path = scope["path"].removeprefix(PREFIX)
        origin = self.settings.origin(header(scope, b"host"))
        if origin is None:
            log.warning("jot browser: request for a host that is not one of --public-url")
            return _page(400, "This host is not one of the destination's own.")
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            if path == "/signin":
                return (yield from self._sign_in(origin, query))
            if path == "/callback":
                return (yield from self._callback(scope, origin, query))
            if path == "/signout":
                return self._sign_out()
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

    def _sign_in(self, origin: str, query: str) -> Flow[Page]:
        back = self._return_path(origin, query)
        config = yield from self._config()
        state, verifier, nonce = (secrets.token_urlsafe(32) for _ in range(3))
        pending = Pending(state, verifier, nonce, back, origin, self.clock() + SIGN_IN_LIFE)
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

    def _callback(self, scope: Scope, origin: str, query: str) -> Flow[Page]:
        params = dict(parse_qsl(query))
        state = params.get("state", "")
        values = [v for k, v in scope["headers"] if k == b"cookie"]
        name = self.jar.state_name(state) if state else ""
        pending = next(
            (p for v in read_cookies(values, name) if (p := self.jar.pending(v, self.clock()))),
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
        answer = yield from self._token_request(
            {
                "grant_type": "authorization_code",
                "code": params.get("code", ""),
                "redirect_uri": origin + PREFIX + "/callback",
                "code_verifier": pending.verifier,
            }
        )
        yield from self._check_id_token(str(answer.get("id_token", "")), pending.nonce)
        session = Session(
            str(answer["access_token"]),
            str(answer.get("refresh_token", "")),
            self.clock() + SESSION_LIFE,
        )
        sealed = self.jar.seal_session(session)
        headers = [
            (b"location", pending.back.encode("latin-1")),
            (b"set-cookie", self.jar.set_cookie(self.jar.session_name, sealed, SESSION_LIFE)),
            (b"set-cookie", self.jar.clear_cookie(name)),
        ]
        log.info("jot browser: signed in")
        return 303, headers, b""

    def _check_id_token(self, id_token: str, nonce: str) -> Flow[None]:
        """OIDC Core §3.1.3.7: signed by the authority, for this client, with our nonce."""
        try:
            # The kid only picks the key set to fetch; the signature check decides.
            kid = decode_unverified(id_token).header.get("kid")
            keys: KeySet = yield Keys(kid if isinstance(kid, str) else None)
            claims = jwt.decode(
                id_token,
                keys,
                issuer=self.settings.issuer,
                audience=self.settings.client_id,
                typ="JWT",
                require=("exp", "iat", "sub"),
                leeway=60,
                now=self.clock(),
            )
        except JoseError as exc:
            raise _Refused(f"the ID token is not valid ({exc.error})") from None
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise _Refused("the ID token's nonce does not match this sign-in")

    def _sign_out(self) -> Page:
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

    def _config(self) -> Flow[dict[str, str]]:
        if self._endpoints is None:
            response: httpx.Response = yield Fetch(
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

    def _token_request(self, form: dict[str, str]) -> Flow[dict[str, Any]]:
        config = yield from self._config()
        response: httpx.Response = yield Fetch(config["token_endpoint"], form)
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


def sign_in_location(back: str) -> bytes:
    """The ``Location`` that starts a sign-in coming back to ``back`` (a path here)."""
    return f"{PREFIX}/signin?rd={quote(back, safe='')}".encode("latin-1")


def _s256(verifier: str) -> str:
    """The PKCE S256 challenge (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
