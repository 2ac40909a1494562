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
"""

from __future__ import annotations

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
