"""Lean routes for ``POST /api/tokens``, the hot path of the authority, and the JWKS.

FastAPI's generic machinery (dependency resolution, body parsing, response-model
serialisation, two thread-pool hops, five layers of its own middleware) costs more CPU than
issuing the token itself. These routes are taken by :class:`Shortcut`, the innermost of jot's
middleware, in front of the FastAPI ones (which stay for the OpenAPI description and answer
every request the lean routes do not take):

- it takes only a well-formed JSON body that validates as :class:`~jot.api.TokenRequest`;
  anything else is replayed to the FastAPI route, so errors read exactly as before;
- it asks :func:`jot.authority.tokens.issue_cached` first, on the event loop: when the key
  check and the token decision are cached, the token comes without a request transaction;
- otherwise the checks run in the authority's few token-check threads through the same
  :func:`jot.authority.context.run` as every route (authentication, access check, one read
  transaction), which also fills the caches for the next requests; requests with the same
  key and destination that arrive meanwhile wait for it and then use the caches;
- keys that may need a provider revalidation go through the route's handler, which writes.

What is issued, and when, is :mod:`jot.authority.tokens`' business; this module is plumbing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from jot.api import TokenRequest, TokenResponse
from jot.authority import access
from jot.authority.context import bearer_of, cached_principal, check, run
from jot.authority.logs import IDENTITY_SCOPE_KEY
from jot.authority.middleware import replaying
from jot.authority.state import Authority
from jot.authority.tokens import check_token, issue_cached, issue_checked

__all__ = ["JWKS_PATH", "PATH", "Shortcut", "install", "install_jwks"]

PATH = "/api/tokens"
JWKS_PATH = "/.well-known/jwks.json"


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return kind == "application/json"


async def _from_cache(
    request: Request, need: access.Need, payload: TokenRequest
) -> TokenResponse | None:
    """The token from cached checks (:func:`issue_cached`), when nothing on the way needs
    I/O other than the group-committed audit row; ``None`` sends the request the long way."""
    authority: Authority = request.app.state.authority
    principal = cached_principal(authority, bearer_of(request))
    if principal is None:
        return None
    if access.reads_roles(need):
        if principal.roles is None:
            return None  # Checked by a token request, which reads no roles.
        access.check(need, principal.roles)
    client = request.client.host if request.client else None
    request.scope[IDENTITY_SCOPE_KEY] = principal.caller.id  # For the access log.
    return await issue_cached(authority, principal, client, payload)


#: A lean endpoint: ``(scope, receive, send, rest)``, where ``rest`` is the app behind jot's
#: middleware (FastAPI's own middleware and router), for requests it hands over.
Lean = Callable[[Scope, Receive, Send, ASGIApp], Awaitable[None]]


class Shortcut:
    """The lean routes, taken just inside jot's own middleware (client address, body limit,
    metrics, security headers and the access log all apply), before FastAPI's: its inner
    middleware and the router's search cost the token path more than its JSON did. Errors
    go to the app's exception handlers as FastAPI's routes' do."""

    def __init__(
        self,
        app: ASGIApp,
        routes: dict[tuple[str, str], tuple[APIRoute, Lean]],
        handlers: Mapping[Any, Any],
    ) -> None:
        self.app, self.routes = app, routes
        # As Starlette builds its own: 500 and Exception belong to the outermost middleware.
        mine = {k: v for k, v in handlers.items() if k not in (500, Exception)}
        self._guarded = ExceptionMiddleware(self._lean, handlers=mine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["method"], _path(scope)) in self.routes:
            await self._guarded(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _lean(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, endpoint = self.routes[scope["method"], _path(scope)]
        scope["route"] = route  # Labels the request metrics as FastAPI's route would.
        await endpoint(scope, receive, send, self.app)


def _path(scope: Scope) -> str:
    """The path the router matches (without the app's ``root_path``), as Starlette reads it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _shortcuts(app: FastAPI) -> dict[tuple[str, str], tuple[APIRoute, Lean]]:
    """The lean routes of ``app``; the first call adds :class:`Shortcut`, the innermost of
    jot's middleware (routes are installed before it adds its own)."""
    routes: dict[tuple[str, str], tuple[APIRoute, Lean]] | None = getattr(
        app.state, "shortcuts", None
    )
    if routes is None:
        routes = app.state.shortcuts = {}
        app.add_middleware(Shortcut, routes=routes, handlers=app.exception_handlers)
    return routes


def _route(app: FastAPI, method: str, path: str) -> APIRoute:
    return next(
        route
        for route in app.router.routes
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ())
    )


def install(app: FastAPI, handler: Any, need: access.Need, status: int) -> None:
    """Put the lean route in front of the FastAPI route for ``POST /api/tokens``."""

    async def endpoint(scope: Scope, receive: Receive, send: Send, rest: ASGIApp) -> None:
        request = Request(scope, receive)
        body = await request.body()
        payload: TokenRequest | None = None
        if _is_json(request):
            try:
                payload = TokenRequest.model_validate_json(body)
            except ValidationError:
                payload = None
        if payload is None:
            await rest(scope, replaying(body, receive), send)  # FastAPI's route answers.
            return
        result = await _from_cache(request, need, payload) or await long_way(request, payload)
        response = Response(result.model_dump_json(), status, media_type="application/json")
        await response(scope, receive, send)

    # The caches live a second: requests with one key that miss them together wait for the
    # first of them to fill them again rather than each checking the key in the database.
    filling: dict[str, asyncio.Future[None]] = {}

    async def long_way(request: Request, payload: TokenRequest) -> TokenResponse:
        bearer = bearer_of(request)
        if bearer is None:
            return await in_thread(request, payload)
        authority: Authority = request.app.state.authority
        key = f"{authority.auth_cache.digest(bearer)}\0{payload.destination}"  # Never the key.
        other = filling.get(key)
        if other is not None:
            await asyncio.shield(other)
            return await _from_cache(request, need, payload) or await in_thread(request, payload)
        filling[key] = done = asyncio.get_running_loop().create_future()
        try:
            return await in_thread(request, payload)
        finally:
            del filling[key]
            done.set_result(None)

    async def in_thread(request: Request, payload: TokenRequest) -> TokenResponse:
        authority: Authority = request.app.state.authority
        checked = await authority.checks.run(
            functools.partial(check, request, need, check_token, body=payload)
        )
        if checked is not None:
            client = request.client.host if request.client else None
            return await issue_checked(request.app.state.authority, checked, client)
        result = await run_in_threadpool(run, request, need, handler, body=payload)
        return cast(TokenResponse, result)

    _shortcuts(app)["POST", PATH] = (_route(app, "POST", PATH), endpoint)


def install_jwks(app: FastAPI, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
    """Serve the JWKS through Starlette's plain request wrapper, in front of the FastAPI route
    (kept for the OpenAPI description): the endpoint takes only the request, so FastAPI's
    dependency resolution is pure overhead on this busy, cache-served route. Only ``GET``:
    ``HEAD`` goes to the FastAPI route, as it always did."""

    async def jwks(scope: Scope, receive: Receive, send: Send, rest: ASGIApp) -> None:
        response = await endpoint(Request(scope, receive))
        await response(scope, receive, send)

    _shortcuts(app)["GET", JWKS_PATH] = (_route(app, "GET", JWKS_PATH), jwks)
