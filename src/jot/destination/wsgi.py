"""WSGI middleware (Flask, Django): the same checks as the ASGI one, over a sync
:class:`~jot.destination.verifier.Verifier`.

It puts the :class:`Identity` at ``environ["jot.identity"]`` and its name at
``environ["REMOTE_USER"]``; Flask reads it as ``request.environ["jot.identity"]``.

With ``browser=`` (a sync :class:`~jot.destination.browser.BrowserSignIn`), the app signs
browsers in as the ASGI middleware does: a request without ``Authorization`` is decided by
its session cookie (a renewed one is added to the app's answer), a GET without a session is
redirected to ``/.jot/signin``, and the ``/.jot/`` endpoints are answered here. The app
must be served at the root of its origin (the callback is ``ORIGIN/.jot/callback``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jot.destination._core import REFUSED, Refusal, allowed, refuse, request_token
from jot.destination.browser import BrowserSignIn, Gate
from jot.destination.identity import Identity
from jot.destination.verifier import Verifier

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ENVIRON_KEY", "JotWSGIMiddleware", "wsgi_identity"]

log = logging.getLogger("jot.destination")

ENVIRON_KEY = "jot.identity"


def wsgi_identity(environ: dict[str, Any]) -> Identity | None:
    """The identity verified for this request, or None."""
    identity = environ.get(ENVIRON_KEY)
    return identity if isinstance(identity, Identity) else None


class JotWSGIMiddleware:
    """``app.wsgi_app = JotWSGIMiddleware(app.wsgi_app, verifier=verifier)``."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        verifier: Verifier,
        optional: bool = False,
        require_grant: bool = True,
        realm: str | None = None,
        browser: BrowserSignIn | None = None,
    ) -> None:
        if not isinstance(verifier, Verifier):
            raise ValueError("JotWSGIMiddleware needs a (sync) Verifier")
        self.app = app
        self.verifier = verifier
        self.optional = optional
        self.require_grant = require_grant
        self.realm = realm or verifier.settings.audience
        self.browser = browser

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # Clients must not be able to pose as an already verified request.
        environ.pop(ENVIRON_KEY, None)
        environ.pop("REMOTE_USER", None)
        gate: Gate | None = None
        try:
            if self.browser is not None:
                gate = self.browser.gate(_scope(environ), optional=self.optional)
            if gate is None:
                identity = self._authenticate(environ)
            elif gate.answer is not None:
                return _page(gate.answer, start_response)
            else:
                identity = gate.identity
                if identity is not None:
                    allowed(identity, self.require_grant)
        except REFUSED as exc:
            refusal = refuse(exc, self.realm)
            refusal.log(log, f"wsgi {environ.get('PATH_INFO')}")
            return _answer(refusal, start_response)
        if identity is not None:
            environ[ENVIRON_KEY] = identity
            environ["REMOTE_USER"] = identity.name
        if gate is not None and gate.cookies:
            return self.app(environ, _with_cookies(start_response, gate.cookies))
        return self.app(environ, start_response)

    def _authenticate(self, environ: WSGIEnvironment) -> Identity | None:
        # The server has joined repeated headers into one value; authorization() finds two
        # credentials in it as well.
        value = environ.get("HTTP_AUTHORIZATION")
        token = request_token([value] if value is not None else [], optional=self.optional)
        if token is None:
            return None
        return allowed(self.verifier.verify(token), self.require_grant)


def _scope(environ: WSGIEnvironment) -> dict[str, Any]:
    """What browser sign-in reads of a request, in the shape of an ASGI scope."""
    headers = [
        (key[5:].replace("_", "-").lower().encode("latin-1"), str(value).encode("latin-1"))
        for key, value in environ.items()
        if key.startswith("HTTP_")
    ]
    # PEP 3333: the path is the request's bytes, decoded as latin-1.
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return {
        "type": "http",
        "method": environ.get("REQUEST_METHOD", "GET"),
        "path": path.encode("latin-1").decode("utf-8", "replace"),
        "raw_path": quote(path, safe="/", encoding="latin-1").encode("ascii"),
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
    }


def _with_cookies(start_response: StartResponse, cookies: list[tuple[bytes, bytes]]) -> Any:
    """``start_response`` that adds the renewed session cookie to the app's answer."""
    extra = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in cookies]

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, *extra], exc_info)

    return start


def _page(page: tuple[int, list[tuple[bytes, bytes]], bytes], start_response: Any) -> list[bytes]:
    status, headers, body = page
    found = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
    found.append(("Content-Length", str(len(body))))
    start_response(f"{status} {HTTPStatus(status).phrase}", found)
    return [body]


def _answer(refusal: Refusal, start_response: StartResponse) -> list[bytes]:
    body = refusal.phrase
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    headers += [(k.decode(), v.decode()) for k, v in refusal.headers]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{refusal.status} {body.decode()}", headers)
    return [body]
