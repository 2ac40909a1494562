"""ASGI middleware: ``JotAuthMiddleware`` and the ``require_role`` check.

::

    app = Starlette(routes=…, middleware=[Middleware(JotAuthMiddleware, verifier=verifier)])
    # or: app = JotAuthMiddleware(app, verifier=verifier)

For every HTTP and WebSocket connection it verifies ``Authorization: Bearer <token>`` and sets
``scope["user"]`` (an :class:`Identity`) and ``scope["auth"]`` (Starlette
``AuthCredentials`` whose scopes are the identity's roles, so ``@requires("admin")`` works).
A bad token gets 401 with ``WWW-Authenticate: Bearer error="invalid_token"``; a valid one
without any role here gets 403 (``require_grant=False`` lets it through); a request with two
``Authorization`` credentials gets 400. Other scopes pass.

With ``browser=`` (:mod:`jot.destination.browser`), the app signs browsers in itself: an
HTTP request without ``Authorization`` is decided by its session cookie (a renewed one is
added to the app's answer), a GET without a session is redirected to ``/.jot/signin``
(anything else gets 401), and the ``/.jot/`` endpoints are answered here.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from jot.destination._core import REFUSED, allowed, refuse, request_token
from jot.destination.browser import AsyncBrowserSignIn
from jot.destination.identity import Identity
from jot.destination.verifier import AsyncVerifier

__all__ = ["JotAuthMiddleware", "current_identity", "require_role"]

log = logging.getLogger("jot.destination")

ErrorHandler = Callable[[HTTPConnection, Exception], Response]


def _default_error(realm: str) -> ErrorHandler:
    def on_error(conn: HTTPConnection, exc: Exception) -> Response:
        refusal = refuse(exc, realm)
        headers = {k.decode(): v.decode() for k, v in refusal.headers}
        return PlainTextResponse(refusal.phrase, refusal.status, headers)

    return on_error


class JotAuthMiddleware:
    """Pure ASGI middleware around one :class:`AsyncVerifier`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: AsyncVerifier,
        optional: bool = False,
        require_grant: bool = True,
        realm: str | None = None,
        on_error: ErrorHandler | None = None,
        browser: AsyncBrowserSignIn | None = None,
    ) -> None:
        if not isinstance(verifier, AsyncVerifier):
            raise ValueError(
                "JotAuthMiddleware needs an AsyncVerifier (use the WSGI one for Verifier)"
            )
        self.app = app
        self.verifier = verifier
        self.optional = optional
        self.require_grant = require_grant
        self.realm = realm or verifier.settings.audience
        self.on_error = on_error or _default_error(self.realm)
        self.browser = browser

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        browser = self.browser if scope["type"] == "http" else None
        if browser is not None and await self._browser(scope, receive, send, browser):
            return
        conn = HTTPConnection(scope)
        try:
            identity = await self._authenticate(conn)
        except REFUSED as exc:
            refuse(exc, self.realm).log(log, f"{scope['type']} {conn.url.path}")
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.on_error(conn, exc)(scope, receive, send)
            return
        _set_user(scope, identity)
        await self.app(scope, receive, send)

    async def _browser(
        self, scope: Scope, receive: Receive, send: Send, browser: AsyncBrowserSignIn
    ) -> bool:
        """A request decided by browser sign-in (``False``: it carries a bearer token)."""
        try:
            gate = await browser.gate(scope, optional=self.optional)
            if gate is not None and gate.identity is not None:
                allowed(gate.identity, self.require_grant)
        except REFUSED as exc:
            conn = HTTPConnection(scope)
            refuse(exc, self.realm).log(log, f"http {conn.url.path}")
            await self.on_error(conn, exc)(scope, receive, send)
            return True
        if gate is None:
            return False
        if gate.answer is not None:
            status, headers, body = gate.answer
            page = Response(body, status)
            page.raw_headers += headers  # A list: a callback sets two cookies.
            await page(scope, receive, send)
            return True
        _set_user(scope, gate.identity)
        cookies = gate.cookies or []

        async def with_cookies(message: Any) -> None:
            if message["type"] == "http.response.start" and cookies:
                message["headers"] = [*message.get("headers", []), *cookies]
            await send(message)

        await self.app(scope, receive, with_cookies)
        return True

    async def _authenticate(self, conn: HTTPConnection) -> Identity | None:
        token = request_token(conn.headers.getlist("authorization"), optional=self.optional)
        if token is None:
            return None
        return allowed(await self.verifier.verify(token), self.require_grant)


def _set_user(scope: Scope, identity: Identity | None) -> None:
    if identity is None:
        scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
    else:
        scope["user"], scope["auth"] = identity, AuthCredentials(sorted(identity.roles))


def current_identity(conn: HTTPConnection) -> Identity | None:
    """The verified identity of a request, or None."""
    user = conn.scope.get("user")
    return user if isinstance(user, Identity) else None


class require_role:  # Lower-case: it reads as a function, Depends(require_role("admin")).
    """Demand one of ``roles``: a FastAPI dependency and a Starlette endpoint decorator.

    ``Depends(require_role("admin"))`` returns the :class:`Identity` or raises 401/403;
    ``@require_role("admin")`` on a ``async def endpoint(request)`` answers 401/403 itself.
    """

    def __init__(self, *roles: str) -> None:
        if not roles or not all(isinstance(r, str) and r for r in roles):
            raise ValueError("require_role needs at least one role name")
        self.roles = roles
        # FastAPI reads the dependency's signature: make it ask for the request.
        self.__signature__ = inspect.Signature(
            [
                inspect.Parameter(
                    "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
                )
            ]
        )

    def check(self, conn: HTTPConnection) -> Identity:
        identity = current_identity(conn)
        if identity is None:
            raise HTTPException(401, headers={"WWW-Authenticate": 'Bearer realm="jot"'})
        if not identity.has_role(*self.roles):
            raise HTTPException(403)
        return identity

    def __call__(self, request: Any) -> Any:
        if isinstance(request, HTTPConnection):
            return self.check(request)
        if callable(request):
            return self._wrap(request)
        raise TypeError("require_role(...) takes a request or decorates an endpoint")

    def _wrap(
        self, endpoint: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def wrapped(request: Request) -> Response:
            try:
                self.check(request)
            except HTTPException as exc:
                return PlainTextResponse(exc.detail, exc.status_code, exc.headers)
            return await endpoint(request)

        return wrapped
