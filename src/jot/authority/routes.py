"""Every route of the authority, in one table.

Typed handlers ``(ctx, ...) -> Model`` become FastAPI endpoints through :func:`_endpoint`,
which runs them in :func:`jot.authority.context.run` (authenticate, check access, one
transaction). A few routes that are not per-identity (JWKS, health, the grants long-poll)
are plain FastAPI endpoints.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from fastapi import FastAPI, Request

from jot.api import ErrorResponse, GrantList
from jot.authority import fastpath, tokens
from jot.authority.access import Need
from jot.authority.context import run
from jot.authority.handlers import (
    audit,
    clusters,
    destinations,
    explain,
    grants,
    health,
    identities,
    keys,
    requests,
    revocations,
    sealing,
    session,
)
from jot.authority.oidc import routes as oidc_routes
from jot.authority.openid import routes as openid_routes

__all__ = ["RAW_ROUTES", "ROUTES", "Route", "install_routes"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[..., Any]
    need: Need
    status: int = 200
    tag: str = "admin"


_REQUEST = "/api/access-requests/{request_id}"
_SEALING = "/api/destinations/{name}/encryption-key"

ROUTES: list[Route] = [
    Route("POST", "/api/login", session.login, Need.PUBLIC, 201, "session"),
    Route("POST", "/api/logout", session.logout, Need.SELF, 204, "session"),
    Route("GET", "/api/whoami", session.whoami, Need.SELF, tag="session"),
    Route("POST", "/api/password", session.change_password, Need.SELF, 204, "session"),
    Route("POST", "/api/tokens", tokens.issue_token, Need.SELF, 201, "session"),
    Route("GET", "/api/users", identities.list_identities, Need.VIEW),
    Route("POST", "/api/users", identities.create_identity, Need.ADMIN, 201),
    Route("GET", "/api/users/{name}", identities.get_identity, Need.VIEW),
    Route("PATCH", "/api/users/{name}", identities.update_identity, Need.ADMIN),
    Route("DELETE", "/api/users/{name}", identities.delete_identity, Need.ADMIN, 204),
    Route("GET", "/api/groups", identities.list_groups, Need.VIEW),
    Route("POST", "/api/groups", identities.create_group, Need.ADMIN, 201),
    Route("GET", "/api/groups/{name}", identities.get_group, Need.VIEW),
    Route("DELETE", "/api/groups/{name}", identities.delete_group, Need.ADMIN, 204),
    Route("POST", "/api/groups/{name}/members", identities.add_member, Need.ADMIN),
    Route(
        "DELETE", "/api/groups/{name}/members/{member}", identities.remove_member, Need.ADMIN, 204
    ),
    Route("GET", "/api/destinations", destinations.list_destinations, Need.GRANTS),
    Route("POST", "/api/destinations", destinations.create_destination, Need.ADMIN, 201),
    Route("GET", "/api/destinations/{name}", destinations.get_destination, Need.GRANTS),
    Route("PATCH", "/api/destinations/{name}", destinations.update_destination, Need.ADMIN),
    Route("DELETE", "/api/destinations/{name}", destinations.delete_destination, Need.ADMIN, 204),
    Route("PUT", _SEALING, sealing.set_encryption_key, Need.GRANTS),
    Route("DELETE", _SEALING, sealing.remove_encryption_key, Need.GRANTS, 204),
    Route("POST", "/api/grants", grants.create_grant, Need.ADMIN, 201),
    Route("DELETE", "/api/grants/{grant_id}", grants.delete_grant, Need.ADMIN, 204),
    Route("GET", "/api/access-requests", requests.list_requests, Need.SELF, tag="requests"),
    Route("POST", "/api/access-requests", requests.create_request, Need.SELF, 201, "requests"),
    Route("GET", _REQUEST, requests.get_request, Need.SELF, tag="requests"),
    Route("POST", f"{_REQUEST}/approve", requests.approve_request, Need.SELF, tag="requests"),
    Route("POST", f"{_REQUEST}/deny", requests.deny_request, Need.SELF, tag="requests"),
    Route("POST", f"{_REQUEST}/cancel", requests.cancel_request, Need.SELF, tag="requests"),
    Route("GET", "/api/revocations", revocations.list_revocations, Need.VIEW),
    Route("POST", "/api/revocations", revocations.create_revocation, Need.ADMIN, 201),
    Route(
        "DELETE",
        "/api/revocations/{revocation_id}",
        revocations.delete_revocation,
        Need.ADMIN,
        204,
    ),
    Route("GET", "/api/access-keys", keys.list_access_keys, Need.SELF),
    Route("POST", "/api/access-keys", keys.create_access_key, Need.SELF, 201),
    Route("DELETE", "/api/access-keys/{key_id}", keys.revoke_access_key, Need.SELF, 204),
    Route("GET", "/api/signing-keys", keys.list_signing_keys, Need.VIEW),
    Route("POST", "/api/signing-keys/rotate", keys.rotate_signing_key, Need.ADMIN),
    Route("GET", "/api/audit", audit.list_audit, Need.VIEW),
    Route("GET", "/api/my-audit", audit.my_audit, Need.SELF, tag="session"),
    Route("GET", "/api/my-access", explain.my_access, Need.SELF, tag="session"),
    Route("GET", "/api/clusters/{name}", clusters.cluster, Need.SELF, tag="session"),
    Route("GET", "/api/explain", explain.explain, Need.VIEW),
    *(Route(*spec) for spec in oidc_routes.ROUTES),
]

# (method, path, endpoint, tag): endpoints that take the request themselves.
RAW_ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/api/grants", grants.watch_grants, "admin"),
    ("GET", "/.well-known/jwks.json", keys.jwks, "discovery"),
    ("GET", "/healthz", health.healthz, "operations"),
    ("GET", "/readyz", health.readyz, "operations"),
    ("GET", "/metrics", health.metrics, "operations"),
    *oidc_routes.RAW_ROUTES,
    *openid_routes.RAW_ROUTES,
]

# Answers that are not plain JSON, documented so that the OpenAPI schema tells the truth.
_RAW_RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {
    "/.well-known/jwks.json": {200: {"content": {"application/jwk-set+json": {}}}},
    "/metrics": {200: {"content": {"text/plain": {}}}},
    "/readyz": {503: {"model": ErrorResponse}},
    "/api/grants": {304: {"description": "Not modified (ETag matched, wait ran out)"}},
    **oidc_routes.RAW_RESPONSES,
    **openid_routes.RAW_RESPONSES,
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 429)
}


def _endpoint(route: Route) -> Callable[..., Any]:
    """A FastAPI endpoint with the handler's parameters (minus ``ctx``) plus the request."""
    hints = get_type_hints(route.handler)
    signature = inspect.signature(route.handler)
    params = [
        p.replace(annotation=hints.get(p.name, p.annotation), kind=inspect.Parameter.KEYWORD_ONLY)
        for p in list(signature.parameters.values())[1:]
    ]
    request = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)

    def endpoint(request: Request, **kwargs: Any) -> Any:
        return run(request, route.need, route.handler, **kwargs)

    endpoint.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[request, *params], return_annotation=hints.get("return")
    )
    endpoint.__name__ = route.handler.__name__
    endpoint.__doc__ = route.handler.__doc__
    return endpoint


def install_routes(app: FastAPI) -> None:
    for route in ROUTES:
        returns = get_type_hints(route.handler).get("return")
        app.add_api_route(
            route.path,
            _endpoint(route),
            methods=[route.method],
            status_code=route.status,
            response_model=None if returns is type(None) else returns,
            responses=_ERRORS,
            tags=[route.tag],
        )
    for method, path, endpoint, tag in RAW_ROUTES:
        model = GrantList if endpoint is grants.watch_grants else None
        responses = {**_ERRORS, **_RAW_RESPONSES.get(path, {})}
        app.add_api_route(
            path, endpoint, methods=[method], tags=[tag], response_model=model, responses=responses
        )
    tokens = next(r for r in ROUTES if r.method == "POST" and r.path == fastpath.PATH)
    fastpath.install(app, tokens.handler, tokens.need, tokens.status)
    fastpath.install_jwks(app, keys.jwks)
