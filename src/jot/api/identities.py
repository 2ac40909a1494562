"""Identities (people and machines), groups and memberships."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from jot.api._base import Name, Request, Response

__all__ = [
    "RESERVED_PREFIX",
    "Group",
    "GroupCreate",
    "GroupList",
    "Identity",
    "IdentityCreate",
    "IdentityList",
    "IdentityUpdate",
    "MemberChange",
    "fold_name",
    "is_reserved_name",
]

IdentityKind = Literal["user", "machine"]

#: Kubernetes reserves user names with this prefix for its own components
#: (``system:kube-controller-manager``, ``system:node:…``, ``system:serviceaccount:…``): a jot
#: identity so named would be impersonated as that component.
RESERVED_PREFIX = "system:"


def fold_name(name: str) -> str:
    """The form in which names of identities and groups are compared: case does not count
    (people read ``BOB@Example.com`` and ``bob@example.com`` as one address). Names are
    ASCII (:data:`~jot.api._base.Name`), so lower-casing is the whole of case folding."""
    return name.lower()


def is_reserved_name(name: str) -> bool:
    """True for a name that no jot identity may have (see :data:`RESERVED_PREFIX`), in any
    letter case, as jot compares names."""
    return fold_name(name).startswith(RESERVED_PREFIX)


def _not_reserved(name: str) -> str:
    if is_reserved_name(name):
        raise ValueError(f"names starting with {RESERVED_PREFIX!r} are reserved by Kubernetes")
    return name


_IdentityName = Annotated[Name, AfterValidator(_not_reserved)]


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

    name: _IdentityName
    kind: IdentityKind = "user"
    password: SecretStr | None = Field(default=None, min_length=8, max_length=1024)


class IdentityUpdate(Request):
    """A rename (grants, groups and keys stay with the identity), a new password, or both.

    ``revoke_access_keys`` with a new password revokes every access key of the identity, as
    after a suspected compromise.
    """

    name: _IdentityName | None = None
    password: SecretStr | None = Field(default=None, min_length=8, max_length=1024)
    revoke_access_keys: bool = False


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
