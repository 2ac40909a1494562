"""Identities (people and machines), groups and memberships."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, SecretStr

from jot.api._base import Name, Request, Response

__all__ = [
    "Group",
    "GroupCreate",
    "GroupList",
    "Identity",
    "IdentityCreate",
    "IdentityList",
    "IdentityUpdate",
    "MemberChange",
]

IdentityKind = Literal["user", "machine"]


class Identity(Response):
    id: str
    name: str
    kind: IdentityKind
    has_password: bool
    groups: list[str]
    created: datetime
    updated: datetime


class IdentityList(Response):
    items: list[Identity]


class IdentityCreate(Request):
    """A person (``user``, e-mail as name, optional password) or a ``machine`` (no password)."""

    name: Name
    kind: IdentityKind = "user"
    password: SecretStr | None = Field(default=None, min_length=8, max_length=1024)


class IdentityUpdate(Request):
    password: SecretStr | None = Field(default=None, min_length=8, max_length=1024)


class Group(Response):
    id: str
    name: str
    members: list[str]
    created: datetime


class GroupList(Response):
    items: list[Group]


class GroupCreate(Request):
    name: Name


class MemberChange(Request):
    """Add or remove the identity named ``name``."""

    name: Name
