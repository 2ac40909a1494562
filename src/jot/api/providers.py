"""Upstream OpenID Connect providers and the login flows that use them.

The client secret is write-only: it is accepted on create and update and never returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, SecretStr

from jot.api._base import DestinationName, Request, Response

__all__ = [
    "DeviceAuthorization",
    "DeviceStart",
    "LoginExchange",
    "Provider",
    "ProviderCreate",
    "ProviderList",
    "ProviderNames",
    "ProviderUpdate",
]

ClaimName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_:./-]+$")]
Scope = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+$")]
Domain = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.-]+$")]
IssuerURL = Annotated[str, Field(min_length=8, max_length=500, pattern=r"^https?://[^\s?#]+$")]

#: Two hours: how long a provider login is trusted before the refresh token is used again.
DEFAULT_REVALIDATE = 7200


class ProviderCreate(Request):
    name: DestinationName
    issuer: IssuerURL
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: SecretStr | None = Field(default=None, max_length=2000)
    scopes: list[Scope] = Field(default_factory=lambda: ["openid", "email", "profile"])
    email_claim: ClaimName = "email"
    name_claim: ClaimName = "name"
    groups_claim: ClaimName = "groups"
    allowed_domains: list[Domain] = Field(default_factory=list, max_length=100)
    revalidate_after: int = Field(default=DEFAULT_REVALIDATE, ge=60, le=30 * 86400)
    #: The provider verifies every address it asserts, even without ``email_verified: true``
    #: (then a login may take over the existing jot account of that address). Off by default.
    verifies_email: bool = False


class ProviderUpdate(Request):
    """Fields that are absent stay as they are; ``client_secret: null`` keeps the secret."""

    issuer: IssuerURL | None = None
    client_id: str | None = Field(default=None, min_length=1, max_length=500)
    client_secret: SecretStr | None = Field(default=None, max_length=2000)
    scopes: list[Scope] | None = None
    email_claim: ClaimName | None = None
    name_claim: ClaimName | None = None
    groups_claim: ClaimName | None = None
    allowed_domains: list[Domain] | None = Field(default=None, max_length=100)
    revalidate_after: int | None = Field(default=None, ge=60, le=30 * 86400)
    verifies_email: bool | None = None


class Provider(Response):
    name: str
    issuer: str
    client_id: str
    has_client_secret: bool
    scopes: list[str]
    email_claim: str
    name_claim: str
    groups_claim: str
    allowed_domains: list[str]
    revalidate_after: int
    verifies_email: bool
    #: The exact redirect URI to register at the provider.
    redirect_uri: str
    created: datetime
    updated: datetime


class ProviderList(Response):
    items: list[Provider]


class ProviderNames(Response):
    """The providers one can log in through (public: a login page lists them anyway)."""

    items: list[str]


class LoginExchange(Request):
    """The CLI trades the one-time code from its loopback redirect for the access key."""

    code: str = Field(min_length=16, max_length=200)
    code_verifier: str = Field(min_length=43, max_length=128, pattern=r"^[A-Za-z0-9._~-]+$")


class DeviceStart(Request):
    """``provider`` may be left out when the server has exactly one."""

    provider: DestinationName | None = None


class DeviceAuthorization(Response):
    """RFC 8628 §3.2 device authorization response."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int
