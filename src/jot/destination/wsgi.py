"""WSGI middleware (Flask, Django): the same checks as the ASGI one, over a sync
:class:`~jot.destination.verifier.Verifier`.

It puts the :class:`Identity` at ``environ["jot.identity"]`` and its name at
``environ["REMOTE_USER"]``; Flask reads it as ``request.environ["jot.identity"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from jot.destination._core import MISSING_TOKEN, authorization, bearer_token, refusal
from jot.destination.errors import BadRequestError, ForbiddenError, UnavailableError
from jot.destination.identity import Identity
from jot.destination.verifier import Verifier
from jot.jose.errors import InvalidTokenError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ENVIRON_KEY", "JotWSGIMiddleware", "wsgi_identity"]

log = logging.getLogger("jot.destination")

ENVIRON_KEY = "jot.identity"
_REFUSED = (BadRequestError, InvalidTokenError, ForbiddenError, UnavailableError)


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
        except _REFUSED as exc:
            log.info("jot: refused %s: %s", environ.get("PATH_INFO"), getattr(exc, "error", exc))
            return self._refuse(exc, start_response)
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
        token = bearer_token(authorization([value] if value is not None else []))
        if token is None:
            if self.optional:
                return None
            raise InvalidTokenError("no bearer token", error=MISSING_TOKEN)
        identity = self.verifier.verify(token)
        if self.require_grant and not identity.roles:
            raise ForbiddenError("no role at this destination")
        return identity

    def _refuse(self, exc: Exception, start_response: StartResponse) -> list[bytes]:
        status, extra = refusal(exc, self.realm)
        body = HTTPStatus(status).phrase.encode()
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        headers += [(k.decode(), v.decode()) for k, v in extra]
        start_response(
            f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(body)))]
        )
        return [body]
