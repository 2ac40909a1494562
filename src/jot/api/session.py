"""Logging in, whoami, audit records and grant changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, SecretStr

from jot.api._base import Label, Name, Request, Resource, Response, Role, Subject
from jot.api.requests import MAX_GRANT_DURATION

__all__ = [
    "AuditEvent",
    "AuditList",
    "GrantCreate",
    "LoginRequest",
    "LoginResponse",
    "PasswordChange",
    "WhoAmI",
]


class LoginRequest(Request):
    """Name and password. ``key_name`` labels the new key (default ``login``); ``ttl`` (seconds)
    makes it expire sooner than the authority's ``access_key_lifetime``, never later."""

    name: Name
    password: SecretStr = Field(min_length=1, max_length=1024)
    key_name: Label | None = None
    ttl: int | None = Field(default=None, ge=60)


class PasswordChange(Request):
    """The caller's own password: the current one, and the new one. ``revoke_other_keys``
    also revokes every other access key of the caller (other logins, keys made from them)."""

    current: SecretStr = Field(min_length=1, max_length=1024)
    new: SecretStr = Field(min_length=8, max_length=1024)
    revoke_other_keys: bool = False


class LoginResponse(Response):
    access_key: str
    identity: str
    expires: datetime | None


class WhoAmI(Response):
    id: str
    name: str
    kind: str
    groups: list[str]
    access_key: str
    roles: list[str]


class GrantCreate(Request):
    """``subject`` is ``user:<name>`` or ``group:<name>``; ``resource`` is
    ``destination[.sub-resource]``."""

    subject: Subject
    role: Role
    resource: Resource
    #: A time-bound grant: it lapses this many seconds from now (``--for``) …
    duration: int | None = Field(default=None, ge=1, le=MAX_GRANT_DURATION)
    #: … or at this time (``--until``). Neither: until removed.
    expires: datetime | None = None


class AuditEvent(Response):
    id: int
    time: datetime
    kind: str
    actor: str | None
    target: str | None
    client: str | None
    detail: dict[str, Any]


class AuditList(Response):
    items: list[AuditEvent]
