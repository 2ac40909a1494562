"""Who may call what. The authority's own API is the destination ``jot``.

Roles there: ``admin`` (everything), ``view`` (read everything), ``connector`` (read the
destinations and grants, as a destination's machine identity does), ``metrics`` (scrape
``/metrics`` and nothing else). Every identity with a valid access key may use its own
session endpoints (whoami, tokens, logout).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from jot.authority.errors import Forbidden
from jot.authority.models import Grant, Group, Identity, Membership

__all__ = [
    "JOT_DESTINATION",
    "JOT_ROLES",
    "Need",
    "check",
    "grants_for",
    "group_names",
    "has_grant",
    "roles_on",
    "subjects_of",
]

JOT_DESTINATION = "jot"
#: The roles that mean something on ``jot``.
JOT_ROLES = ("admin", "view", "connector", "metrics")


class Need(enum.Enum):
    PUBLIC = "public"
    SELF = "self"
    VIEW = "view"
    GRANTS = "grants"
    ADMIN = "admin"
    METRICS = "metrics"


_ALLOWED: dict[Need, frozenset[str]] = {
    Need.VIEW: frozenset({"admin", "view"}),
    Need.GRANTS: frozenset({"admin", "view", "connector"}),
    Need.ADMIN: frozenset({"admin"}),
    Need.METRICS: frozenset({"admin", "view", "metrics"}),
}


def check(need: Need, roles: Iterable[str]) -> None:
    """Raise :class:`Forbidden` unless ``roles`` (on ``jot``) satisfy ``need``."""
    allowed = _ALLOWED.get(need)
    if allowed is not None and not allowed.intersection(roles):
        raise Forbidden(f"this needs the {need.value!r} role on the jot destination")


def group_names(session: Session, identity_id: str) -> list[str]:
    stmt = (
        select(Group.name)
        .join(Membership, Membership.group_id == Group.id)
        .where(Membership.identity_id == identity_id)
        .order_by(Group.name)
    )
    return list(session.scalars(stmt))


def subjects_of(identity: Identity, groups: Iterable[str]) -> list[str]:
    return [f"user:{identity.name}", *(f"group:{g}" for g in groups)]


def grants_for(session: Session, destination_id: str) -> list[Grant]:
    stmt = (
        select(Grant)
        .where(Grant.destination_id == destination_id)
        .order_by(Grant.created, Grant.id)
    )
    return list(session.scalars(stmt))


def has_grant(session: Session, destination_id: str, subjects: list[str]) -> bool:
    """Whether any of ``subjects`` holds a grant on the destination or a sub-resource of it."""
    stmt = select(Grant.id).where(
        Grant.destination_id == destination_id, Grant.subject.in_(subjects)
    )
    return session.scalar(stmt.limit(1)) is not None


def roles_on(session: Session, destination: str, subjects: list[str]) -> set[str]:
    """Roles that ``subjects`` hold on the whole of ``destination`` (no sub-resource)."""
    stmt = select(Grant.role).where(Grant.resource == destination, Grant.subject.in_(subjects))
    return set(session.scalars(stmt))
