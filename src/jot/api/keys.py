"""Access keys (long-lived credentials) and signing keys (as the admin API shows them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from jot.api._base import Name, Request, Response

__all__ = [
    "AccessKey",
    "AccessKeyCreate",
    "AccessKeyList",
    "NewAccessKey",
    "SigningKey",
    "SigningKeyList",
]


class AccessKey(Response):
    """An access key without its secret. ``parent`` is the key it was made with, when it was
    made by its own identity: it never outlives that key (expiry, revocation, revalidation)."""

    id: str
    identity: str
    name: str
    created: datetime
    expires: datetime | None
    inactivity_timeout: int | None
    last_used: datetime
    revoked: datetime | None
    parent: str | None = None


class AccessKeyList(Response):
    items: list[AccessKey]


class AccessKeyCreate(Request):
    """A key for ``identity``; ``ttl``/``inactivity_timeout`` in seconds, 0 means never.

    A key for oneself is derived from the key that asks for it, and is bounded by it: it
    expires no later, idles out no later, and is revoked with it. Only an admin makes keys
    for another identity; those start a line of their own.
    """

    identity: Name
    name: str = Field(default="key", min_length=1, max_length=253)
    ttl: int | None = Field(default=None, ge=0, le=10 * 365 * 86400)
    inactivity_timeout: int | None = Field(default=None, ge=0, le=365 * 86400)


class NewAccessKey(Response):
    """The only time the secret is shown."""

    access_key: str
    key: AccessKey


class SigningKey(Response):
    kid: str
    alg: str
    state: Literal["next", "active", "retired", "revoked"]
    created: datetime
    activates: datetime
    retires: datetime | None
    published_until: datetime | None


class SigningKeyList(Response):
    items: list[SigningKey]
