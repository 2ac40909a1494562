"""jot.destination: the verifier side of jot.

A destination accepts ``Authorization: Bearer <jot>``, verifies it against the authority's
published keys, and maps the user and groups to roles through grants, at every request::

    from jot.destination import AsyncVerifier

    verifier = AsyncVerifier("https://auth.example.com", audience="web", access_key=KEY)
    identity = await verifier.verify(token)      # Identity(subject, name, groups, roles, …)

Integrations live in submodules so that each pulls in only what it needs:
:mod:`jot.destination.asgi` (Starlette/FastAPI), :mod:`jot.destination.wsgi` (Flask, Django),
:mod:`jot.destination.forward_auth` (nginx/Traefik/Caddy), :mod:`jot.destination.proxy`
(reverse proxy, Kubernetes impersonation), :mod:`jot.destination.webhook` (TokenReview).
The names below are imported on first use, so that a light submodule (``settings``) does not
pull in the verifier's dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jot.destination.errors import (
        ForbiddenError,
        ReplayedTokenError,
        RevokedTokenError,
        UnavailableError,
    )
    from jot.destination.grants import FileGrants, GrantIndex
    from jot.destination.grants_client import AsyncAuthorityGrants, AuthorityGrants
    from jot.destination.identity import Identity
    from jot.destination.jwks import JWKSPolicy
    from jot.destination.stores import AsyncRedisStore, MemoryStore, RedisStore
    from jot.destination.verifier import AsyncVerifier, Verifier

__all__ = [
    "AsyncAuthorityGrants",
    "AsyncRedisStore",
    "AsyncVerifier",
    "AuthorityGrants",
    "FileGrants",
    "ForbiddenError",
    "GrantIndex",
    "Identity",
    "JWKSPolicy",
    "MemoryStore",
    "RedisStore",
    "ReplayedTokenError",
    "RevokedTokenError",
    "UnavailableError",
    "Verifier",
]

# Public name -> the submodule that defines it.
_HOMES = {
    "AsyncAuthorityGrants": "grants_client",
    "AsyncRedisStore": "stores",
    "AsyncVerifier": "verifier",
    "AuthorityGrants": "grants_client",
    "FileGrants": "grants",
    "ForbiddenError": "errors",
    "GrantIndex": "grants",
    "Identity": "identity",
    "JWKSPolicy": "jwks",
    "MemoryStore": "stores",
    "RedisStore": "stores",
    "ReplayedTokenError": "errors",
    "RevokedTokenError": "errors",
    "UnavailableError": "errors",
    "Verifier": "verifier",
}


def __getattr__(name: str) -> Any:  # PEP 562: import the defining submodule on first use.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
