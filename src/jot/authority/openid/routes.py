"""The provider's endpoints, for the authority's route table (``jot.authority.routes`` adds
:data:`RAW_ROUTES` and :data:`RAW_RESPONSES`; nothing else there knows about them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jot.authority.openid import authorize, discovery, logout, paths, token, userinfo

__all__ = ["RAW_RESPONSES", "RAW_ROUTES"]

# (method, path, endpoint, tag), as jot.authority.routes.RAW_ROUTES.
RAW_ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/.well-known/openid-configuration", discovery.openid_configuration, "discovery"),
    ("GET", paths.AUTHORIZE, authorize.authorize, "openid"),
    ("POST", paths.AUTHORIZE, authorize.authorize, "openid"),
    ("POST", paths.TOKEN, token.token_endpoint, "openid"),
    ("GET", paths.END_SESSION, logout.logout, "openid"),
    ("POST", paths.END_SESSION, logout.confirm, "openid"),
    ("GET", paths.USERINFO, userinfo.userinfo, "openid"),
    ("POST", paths.USERINFO, userinfo.userinfo, "openid"),
]

_OAUTH_ERROR: dict[str, Any] = {
    "description": "An RFC 6749 §5.2 error (invalid_grant, invalid_client, …)",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
_BEARER_ERROR: dict[str, Any] = {
    "description": "An RFC 6750 §3.1 error (invalid_token)",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
_TOKENS: dict[str, Any] = {
    "description": "Access token (a jot for the client's destination), ID token, refresh token",
    "content": {"application/json": {"schema": {"type": "object"}}},
}

# path -> documented answers, merged into the route table's OpenAPI documentation.
_HTML: dict[str, Any] = {"content": {"text/html": {}}, "description": "An HTML page"}

RAW_RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {
    paths.AUTHORIZE: {
        303: {"description": "To the sign-in page, or back to the client with a code or error"},
        400: _HTML,
        403: _HTML,
    },
    paths.END_SESSION: {200: _HTML, 303: {"description": "To the client, signed out"}, 403: _HTML},
    paths.TOKEN: {200: _TOKENS, 400: _OAUTH_ERROR, 401: _OAUTH_ERROR},
    paths.USERINFO: {
        200: {"description": "The jot profile: sub, name, groups"},
        401: _BEARER_ERROR,
    },
}
