"""The token profile of DESIGN.md: the claims of every token the authority issues."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["TOKEN_TYPE", "Claims"]

#: The explicit `typ` header of jot tokens (RFC 8725 §3.11); verifiers require it.
TOKEN_TYPE = "jot+jwt"


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
