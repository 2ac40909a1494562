"""WSGI middleware (Flask, Django): the same checks as the ASGI one, over a sync
:class:`~jot.destination.verifier.Verifier`.

It puts the :class:`Identity` at ``environ["jot.identity"]`` and its name at
``environ["REMOTE_USER"]``; Flask reads it as ``request.environ["jot.identity"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jot.destination._core import REFUSED, Refusal, allowed, refuse, request_token
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
    ) -> None:
        if not isinstance(verifier, Verifier):
            raise ValueError("JotWSGIMiddleware needs a (sync) Verifier")
        self.app = app
        self.verifier = verifier
        self.optional = optional
        self.require_grant = require_grant
        self.realm = realm or verifier.settings.audience

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            identity = self._authenticate(environ)
        except REFUSED as exc:
            refusal = refuse(exc, self.realm)
            refusal.log(log, f"wsgi {environ.get('PATH_INFO')}")
            return _answer(refusal, start_response)
        if identity is not None:
            environ[ENVIRON_KEY] = identity
            environ["REMOTE_USER"] = identity.name
        return self.app(environ, start_response)

    def _authenticate(self, environ: WSGIEnvironment) -> Identity | None:
        # Clients must not be able to pose as an already verified request.
        environ.pop(ENVIRON_KEY, None)
        environ.pop("REMOTE_USER", None)
        # The server has joined repeated headers into one value; authorization() finds two
        # credentials in it as well.
        value = environ.get("HTTP_AUTHORIZATION")
        token = request_token([value] if value is not None else [], optional=self.optional)
        if token is None:
            return None
        return allowed(self.verifier.verify(token), self.require_grant)


def _answer(refusal: Refusal, start_response: StartResponse) -> list[bytes]:
    body = refusal.phrase
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    headers += [(k.decode(), v.decode()) for k, v in refusal.headers]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{refusal.status} {body.decode()}", headers)
    return [body]
