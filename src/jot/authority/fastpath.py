"""Lean routes for ``POST /api/tokens``, the hot path of the authority, and the JWKS.

FastAPI's generic machinery (dependency resolution, body parsing, response-model
serialisation, two thread-pool hops) costs more CPU than issuing the token itself. This route
sits in front of the FastAPI one (which stays for the OpenAPI description and answers every
request the lean route does not take):

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
from collections.abc import Awaitable, Callable
from typing import Any, cast

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.routing import Route as StarletteRoute
from starlette.types import Receive, Scope, Send

from jot.api import TokenRequest, TokenResponse
from jot.authority import access
from jot.authority.context import bearer_of, cached_principal, run
from jot.authority.logs import IDENTITY_SCOPE_KEY
from jot.authority.middleware import replaying
from jot.authority.state import Authority
from jot.authority.tokens import check_token, issue_cached, issue_checked

__all__ = ["JWKS_PATH", "PATH", "install", "install_jwks"]

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
    client = request.client.host if request.client else None
    access.check(need, principal.roles)
    request.scope[IDENTITY_SCOPE_KEY] = principal.caller.id  # For the access log.
    return await issue_cached(authority, principal, client, payload)


class _LeanRoute(StarletteRoute):
    """A Starlette route that names itself in the scope, as FastAPI's routes do, so that the
    request metrics label it with its path (not ``unmatched``)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


class _Asgi:
    """An object, not a function: Starlette then mounts it as an ASGI app as it is."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def install(app: FastAPI, handler: Any, need: access.Need, status: int) -> None:
    """Put the lean route in front of the FastAPI route for ``POST /api/tokens``."""
    fallback = next(
        route
        for route in app.router.routes
        if isinstance(route, APIRoute) and route.path == PATH and "POST" in (route.methods or ())
    )

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        payload: TokenRequest | None = None
        if _is_json(request):
            try:
                payload = TokenRequest.model_validate_json(body)
            except ValidationError:
                payload = None
        if payload is None:
            await fallback.handle(scope, replaying(body, receive), send)
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
        check = functools.partial(run, request, need, check_token, body=payload)
        checked = await authority.checks.run(check)
        if checked is not None:
            client = request.client.host if request.client else None
            return await issue_checked(request.app.state.authority, checked, client)
        result = await run_in_threadpool(run, request, need, handler, body=payload)
        return cast(TokenResponse, result)

    lean = _LeanRoute(PATH, _Asgi(endpoint), methods=["POST"], include_in_schema=False)
    app.router.routes.insert(0, lean)


def install_jwks(app: FastAPI, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
    """Serve the JWKS through Starlette's plain request wrapper, in front of the FastAPI route
    (kept for the OpenAPI description): the endpoint takes only the request, so FastAPI's
    dependency resolution is pure overhead on this busy, cache-served route."""
    lean = _LeanRoute(JWKS_PATH, endpoint, methods=["GET"], include_in_schema=False)
    lean.methods = {"GET"}  # Starlette adds HEAD; the FastAPI route never answered it.
    app.router.routes.insert(0, lean)
