"""The token profile of DESIGN.md, once: the claims every token carries, how long a token
lives, and how large it may be. The authority builds tokens with :func:`build_claims`;
destinations require :data:`REQUIRED_CLAIMS` and refuse tokens over :data:`MAX_TOKEN_BYTES`.

:func:`build_claims` is plain Python (no pydantic): it runs for every token issued, on the
authority's hot path. :class:`Claims` is the same profile as a schema, for documentation and
for programs that want to validate a decoded token.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "DEFAULT_LIFETIME",
    "MAX_LEEWAY",
    "MAX_LIFETIME",
    "MAX_TOKEN_BYTES",
    "MIN_LIFETIME",
    "REQUIRED_CLAIMS",
    "TOKEN_TYPE",
    "Claims",
    "build_claims",
]

#: The explicit `typ` header of jot tokens (RFC 8725 §3.11); verifiers require it.
TOKEN_TYPE = "jot+jwt"

#: Token lifetimes (seconds) a destination may set; five minutes unless set, as in the seed.
#: Retired signing keys stay published for ``MAX_LIFETIME`` plus skew and cache time, so a
#: longer lifetime would outlive the key that signed it.
MIN_LIFETIME = 60
DEFAULT_LIFETIME = 300
MAX_LIFETIME = 3600

#: The most clock skew (seconds) a destination may tolerate past a token's ``exp``: a deny
#: entry lasts until every token it concerns is past its ``exp`` by this much.
MAX_LEEWAY = 600

#: The largest token (compact serialisation, in bytes) a destination accepts: larger ones
#: are refused before any parsing, and the authority never issues one.
MAX_TOKEN_BYTES = 16 * 1024

#: Claims a verifier requires in every token (the authority's tokens carry them all).
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti")


def build_claims(
    *,
    issuer: str,
    subject: str,
    audience: str,
    name: str,
    groups: Sequence[str],
    issued_at: int,
    lifetime: int,
    skew: int,
    nonce: str | None = None,
    jti: str | None = None,
) -> dict[str, Any]:
    """The claims of one token; ``nonce`` and ``jti`` are fresh random values unless given.

    ``nbf`` lies ``skew`` seconds before ``issued_at``, so that a verifier whose clock is
    behind accepts the token at once; ``exp`` lies ``lifetime`` seconds after it.
    """
    return {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "name": name,
        "groups": list(groups),
        "iat": issued_at,
        "nbf": issued_at - skew,
        "exp": issued_at + lifetime,
        "nonce": secrets.token_urlsafe(16) if nonce is None else nonce,
        "jti": str(uuid.uuid4()) if jti is None else jti,
    }


class Claims(BaseModel):
    """Claims of a jot identity token. Roles are never in the token: destinations decide."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iss: str
    sub: str
    aud: str
    name: str
    groups: list[str]
    iat: int
    nbf: int
    exp: int
    nonce: str
    jti: str
