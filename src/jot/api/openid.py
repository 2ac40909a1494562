"""A destination registered as an OpenID Connect client of the authority (jot as a provider).

The client id is the destination's name, which is also the ``aud`` of its tokens. The client
secret is shown once, when it is made; the authority keeps only its SHA-256.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from jot.api._base import CONTROL, Request, Response

__all__ = [
    "AUTH_METHODS",
    "ClientAuthMethod",
    "OidcClient",
    "OidcClientSpec",
    "RedirectURI",
]

#: How a client proves itself at the token endpoint (``none``: a public client, PKCE only).
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
AUTH_METHODS: tuple[ClientAuthMethod, ...] = (
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
)

#: An absolute http(s) URL without a fragment (OAuth 2.0 §3.1.2); exact matching, no patterns.
RedirectURI = Annotated[
    str, Field(min_length=8, max_length=2000, pattern=rf"^https?://[^\s#{CONTROL}]+$")
]


class OidcClientSpec(Request):
    """What an admin registers; ``jwks`` holds the client's public keys for private_key_jwt."""

    redirect_uris: list[RedirectURI] = Field(min_length=1, max_length=20)
    auth_method: ClientAuthMethod = "client_secret_basic"
    jwks: dict[str, Any] | None = None
    post_logout_redirect_uris: list[RedirectURI] = Field(default_factory=list, max_length=20)


class OidcClient(Response):
    client_id: str
    redirect_uris: list[str]
    auth_method: ClientAuthMethod
    post_logout_redirect_uris: list[str]
    #: The ``kid`` values of the registered private_key_jwt keys.
    key_ids: list[str] = Field(default_factory=list)
    #: The client secret, only in the answer that made it (create, or a new secret).
    client_secret: str | None = None
