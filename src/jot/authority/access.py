"""Who may call what. The authority's own API is the destination ``jot``.

Roles there: ``admin`` (everything), ``view`` (read everything) and ``metrics`` (scrape
``/metrics`` and nothing else), granted on ``jot`` itself; ``connector``, granted on
``jot.<destination>``, reads that one destination and its grants, as the destination's
machine identity does; ``approver``, granted on ``jot.<resource>``, answers access requests
for that resource and the ones below it. Every identity with a valid access key may use its
own session endpoints (whoami, tokens, logout, its own access requests).

Approvers hold their role on ``jot.<resource>``, not on the resource itself: a grant on
``web`` would give them tokens for ``web`` and a role that ``web`` would have to ignore.

Grants are held by an identity directly or through a group it is a member of, by id. The
database query picks the caller's own grants; which roles they give is decided by the one
rule of :mod:`jot.api.roles`, which the destinations apply too.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    bindparam,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from jot.api.roles import Held, decide, resource_chain, roles_below
from jot.authority import revocations
from jot.authority.authcache import GroupGrant, GroupGrants, GroupNames, MemberGroups
from jot.authority.clock import to_datetime
from jot.authority.errors import Forbidden
from jot.authority.models import Destination, Grant, Group, Membership, Revision
from jot.authority.prepared import Prepared, Reads, dialect_name

__all__ = [
    "APPROVER",
    "CONNECTOR",
    "JOT_DESTINATION",
    "JOT_ROLES",
    "MEMBERSHIPS_REVISION",
    "Need",
    "approver_scopes",
    "check",
    "check_destination",
    "connector_destinations",
    "group_names",
    "groups_of",
    "held_by",
    "held_grants",
    "jot_roles",
    "may_approve",
    "reads_everything",
    "reads_roles",
]

JOT_DESTINATION = "jot"
#: The role on ``jot.<destination>`` that reads that destination's grants.
CONNECTOR = "connector"
#: The role on ``jot.<resource>`` that answers access requests for that resource.
APPROVER = "approver"
_CONNECTOR_PREFIX = f"{JOT_DESTINATION}."
#: The roles that mean something on ``jot`` itself.
JOT_ROLES = ("admin", "view", "metrics")


class Need(enum.Enum):
    PUBLIC = "public"
    SELF = "self"
    VIEW = "view"
    GRANTS = "grants"
    ADMIN = "admin"
    METRICS = "metrics"


_ALLOWED: dict[Need, frozenset[str]] = {
    Need.VIEW: frozenset({"admin", "view"}),
    Need.GRANTS: frozenset({"admin", "view", CONNECTOR}),
    Need.ADMIN: frozenset({"admin"}),
    Need.METRICS: frozenset({"admin", "view", "metrics"}),
}
_READ_ALL = _ALLOWED[Need.VIEW]


def reads_roles(need: Need) -> bool:
    """Whether ``need`` depends on the caller's roles on ``jot`` (not public, not self)."""
    return need in _ALLOWED


def check(need: Need, roles: Iterable[str]) -> None:
    """Raise :class:`Forbidden` unless ``roles`` (on ``jot``) satisfy ``need``."""
    allowed = _ALLOWED.get(need)
    if allowed is not None and not allowed.intersection(roles):
        raise Forbidden(f"this needs the {need.value!r} role on the jot destination")


def reads_everything(roles: Iterable[str]) -> bool:
    """Whether ``roles`` read every destination and grant (``admin``, ``view``)."""
    return not _READ_ALL.isdisjoint(roles)


#: Group names never hold a comma (:data:`jot.api._base.Name`; a login provider's groups
#: follow the same rule), group ids never a colon (hex).
_SEPARATOR = ","
_SEPARATOR_SQL: ColumnElement[str] = literal_column(f"'{_SEPARATOR}'")
_COLON_SQL: ColumnElement[str] = literal_column("':'")


# One row each, not one per group: SQLite's driver steps to every row on its own, and for a
# user in 200 groups the rows cost more than the reads.
def _joined(column: ColumnElement[str] | InstrumentedAttribute[str]) -> ColumnElement[str]:
    """The values of ``column`` in one string, separated by :data:`_SEPARATOR`."""
    # A literal separator, written into the SQL (a bind would be rendered at each execution).
    return func.aggregate_strings(column, _SEPARATOR_SQL)  # type: ignore[arg-type]


_GROUP_IDS = Prepared(
    select(_joined(Membership.group_id)).where(Membership.identity_id == bindparam("me"))
)
_NAMED_GROUPS = Prepared(
    select(_joined(Group.id + _COLON_SQL + Group.name))
    .join(Membership, Membership.group_id == Group.id)
    .where(Membership.identity_id == bindparam("me"))
)


def group_names(session: Reads, identity_id: str, known: GroupNames | None = None) -> list[str]:
    """The names of the identity's groups, sorted (Core: this runs on every key check).
    With ``known``, only the ids are read when it knows their names."""
    params = {"me": identity_id}
    if known is not None:
        ids = _GROUP_IDS.rows(session, params)[0][0]
        names = known.names(ids.split(_SEPARATOR)) if ids else []
        if names is not None:
            return sorted(names)
    joined = _NAMED_GROUPS.rows(session, params)[0][0]
    pairs = [pair.split(":", 1) for pair in joined.split(_SEPARATOR)] if joined else []
    if known is not None:
        known.learn((group_id, name) for group_id, name in pairs)
    return sorted(name for _, name in pairs)


#: The memberships' revision, as a column of another statement: advanced by triggers at every
#: change of a membership (migration gm01). ``None`` on a database without them (made by
#: ``create_all``): then nothing is kept by it.
MEMBERSHIPS_REVISION: ScalarSelect[int | None] = (
    select(Revision.value).where(Revision.name == "memberships").scalar_subquery()
)


def groups_of(
    session: Reads,
    identity_id: str,
    known: GroupNames,
    kept: MemberGroups,
    revision: int | None,
) -> tuple[str, ...]:
    """:func:`group_names`, kept in ``kept`` at the memberships' ``revision`` (read first, in
    the same transaction): a user in 200 groups is not read again until some membership
    changes."""
    if revision is None:
        return tuple(group_names(session, identity_id, known))
    names = kept.get(identity_id, revision)
    if names is False:
        names = tuple(group_names(session, identity_id, known))
        kept.put(identity_id, revision, names)
    return names


def held_by(identity_id: Any) -> ColumnElement[bool]:
    """Grants of the identity (a value or a bind parameter), directly or through its groups:
    one indexed condition, so that a check stays one query."""
    groups = select(Membership.group_id).where(Membership.identity_id == identity_id)
    return or_(Grant.identity_id == identity_id, Grant.group_id.in_(groups))


# The grants on destination ``destination`` (by name) that identity ``me`` holds: its own,
# then its groups' with the group's name, and when a time-bound one lapses. Two branches of
# one UNION ALL, each an index search on (destination_id, identity_id) or (destination_id,
# group_id), so that the cost follows the caller's own grants, not the destination's (an
# ``OR`` of both led SQLite's planner to read every grant of the destination: 50,000 grants
# made a decision 25 times slower).
_DESTINATION_ID = (
    select(Destination.id).where(Destination.name == bindparam("destination")).scalar_subquery()
)
_MY_GROUPS = select(Membership.group_id).where(Membership.identity_id == bindparam("me"))
_MINE = select(Grant.resource, Grant.role, null().label("group"), Grant.expires).where(
    Grant.destination_id == _DESTINATION_ID, Grant.identity_id == bindparam("me")
)
_GROUPS_HELD = (
    select(Grant.resource, Grant.role, Group.name, Grant.expires)
    .join(Group, Group.id == Grant.group_id)
    .where(Grant.destination_id == _DESTINATION_ID)
)
_HELD = Prepared(union_all(_MINE, _GROUPS_HELD.where(Grant.group_id.in_(_MY_GROUPS))))
_MINE_ONLY = Prepared(_MINE)
#: A token decision keeps the group grants of destinations that have at most this many
#: (``Authority.group_grants``): a caller's groups are looked up in them; the grants of
#: larger ones are searched (an index search per decision, whatever their number).
_MOST_KEPT = 64
#: Every group grant of the destination, up to ``cap`` of them (:data:`_MOST_KEPT` + 1).
_ALL_GROUPS_HELD = Prepared(_GROUPS_HELD.limit(bindparam("cap")))
# The same grants found the other way round: each group grant of the destination, then
# whether the caller is a member (one primary-key probe). Cheaper on SQLite, which plans
# without statistics, when the destination has fewer group grants than the caller has
# groups (a user in 200 groups asking for a destination of 10 grants: 95 → 25 µs).
_HELD_BY_GRANTS = Prepared(
    union_all(
        _MINE,
        _GROUPS_HELD.where(
            exists().where(
                Membership.group_id == Grant.group_id, Membership.identity_id == bindparam("me")
            )
        ),
    )
)
#: How many group grants the destination has, counted up to ``cap`` (an index range).
_GROUP_GRANTS = Prepared(
    select(func.count()).select_from(
        select(Grant.group_id)  # In the index: no row is read.
        .where(Grant.destination_id == _DESTINATION_ID, Grant.group_id.is_not(None))
        .limit(bindparam("cap"))
        .subquery()
    )
)
#: Below this many groups, the caller's groups lead (counting would cost more than it saves).
_MANY_GROUPS = 16


def held_grants(
    session: Reads,
    identity_id: str,
    name: str,
    destination: str,
    *,
    groups: Collection[str] = (),
    shared: tuple[GroupGrants, int] | None = None,
) -> dict[str, list[Held]]:
    """The grants on ``destination`` or its sub-resources that identity ``identity_id``
    (called ``name``, in ``groups`` if known) holds, directly or through its groups, by
    subject as :mod:`jot.api.roles` reads them. With ``shared`` (the cache, and the grants'
    revision that this transaction read), a small destination's group grants come from there."""
    params = {"me": identity_id, "destination": destination}
    kept = None if shared is None else _group_grants(session, destination, *shared)
    if kept is not None:
        grants = _grants_by_subject(_MINE_ONLY.rows(session, params), name)
        member = groups if isinstance(groups, (set, frozenset)) else frozenset(groups)
        for subject, group, held in kept:
            if group in member:
                grants.setdefault(subject, []).append(held)
        return grants
    statement = _HELD
    if len(groups) >= _MANY_GROUPS and dialect_name(session) == "sqlite":
        cap = len(groups)
        fewer = _GROUP_GRANTS.rows(session, {**params, "cap": cap})[0][0] < cap
        statement = _HELD_BY_GRANTS if fewer else _HELD
    return _grants_by_subject(statement.rows(session, params), name)


def _grants_by_subject(rows: Iterable[Any], name: str) -> dict[str, list[Held]]:
    grants: dict[str, list[Held]] = {}
    for resource, role, group, expires in rows:
        subject = "user:" + name if group is None else "group:" + group
        grants.setdefault(subject, []).append(Held(resource, role, _timestamp(expires)))
    return grants


def _group_grants(
    session: Reads, destination: str, shared: GroupGrants, revision: int
) -> tuple[GroupGrant, ...] | None:
    """The group grants of ``destination`` from ``shared``, read into it at a miss; ``None``
    when it has more than :data:`_MOST_KEPT`."""
    kept = shared.get(destination, revision)
    if kept is not False:
        return kept
    params = {"destination": destination, "cap": _MOST_KEPT + 1}
    rows = _ALL_GROUPS_HELD.rows(session, params)
    read = None
    if len(rows) <= _MOST_KEPT:
        read = tuple(
            ("group:" + group, group, Held(resource, role, _timestamp(expires)))
            for resource, role, group, expires in rows
        )
    shared.put(destination, revision, read)
    return read


def _timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def jot_roles(
    session: Reads, identity_id: str, name: str, groups: Sequence[str], *, now: float
) -> tuple[set[str], float | None]:
    """The roles that decide access to this API: those held on ``jot`` itself, plus
    ``connector`` when a connector grant on some ``jot.<destination>`` is held (which
    destinations it reads is :func:`check_destination`'s question); and when the next
    time-bound grant among them lapses (a cached answer must not outlive it). A revoked
    identity holds none while its entry lasts, even with a key from a new login."""
    grants = held_grants(session, identity_id, name, JOT_DESTINATION, groups=groups)
    denied = revocations.of_subject(session, identity_id, to_datetime(now))
    decision = decide(
        name, groups, JOT_DESTINATION, grants, subject=identity_id, denied=denied, now=now
    )
    roles = set(decision.roles)
    if CONNECTOR in decision.within:
        roles.add(CONNECTOR)
    return roles, decision.until


def _jot_scopes(session: Session, identity_id: str, role: str, now: datetime | None) -> set[str]:
    """What the identity's ``role`` grants on ``jot.<x>`` that apply at ``now`` name: the
    ``x`` of each (its own grants and its groups', by the rule of :mod:`jot.api.roles`)."""
    grants = held_grants(session, identity_id, identity_id, JOT_DESTINATION)
    groups = [subject[6:] for subject in grants if subject.startswith("group:")]
    when = (now or _now()).timestamp()
    below = roles_below(identity_id, groups, JOT_DESTINATION, grants, now=when)
    return {scope.removeprefix(_CONNECTOR_PREFIX) for scope, held in below.items() if role in held}


def connector_destinations(
    session: Session, identity_id: str, now: datetime | None = None
) -> set[str]:
    """The destinations whose grants the identity reads as their connector."""
    return _jot_scopes(session, identity_id, CONNECTOR, now)


def _now() -> datetime:
    # For a caller that has no clock at hand; the authority's own clock differs from the
    # system's only in tests that move a fake one.
    return datetime.now(UTC)


def check_destination(
    session: Session,
    identity_id: str,
    roles: Iterable[str],
    destination: str | None,
    now: datetime | None = None,
) -> None:
    """Raise :class:`Forbidden` unless the caller may read ``destination`` and its grants
    (``None``: every destination). A connector reads only the destinations it is bound to,
    so that it cannot learn who is admin here or what other destinations grant."""
    if reads_everything(roles):
        return
    if destination is None:
        raise Forbidden("a connector reads only its own destination: name it (?destination=)")
    if destination not in connector_destinations(session, identity_id, now):
        raise Forbidden(
            f"this connector is not bound to {destination!r} "
            f"(that needs the connector role on {_CONNECTOR_PREFIX}{destination})"
        )


def approver_scopes(session: Session, identity_id: str, now: datetime | None = None) -> set[str]:
    """The resources the identity answers access requests for (its ``approver`` grants on
    ``jot.<resource>``, without the prefix)."""
    return _jot_scopes(session, identity_id, APPROVER, now)


def may_approve(
    session: Session,
    identity_id: str,
    roles: Iterable[str],
    resource: str,
    now: datetime | None = None,
) -> bool:
    """Whether the caller answers requests for ``resource``: admins always; approvers for
    their resources and those below. Requests for ``jot`` itself are for admins alone."""
    if "admin" in roles:
        return True
    if resource.split(".", 1)[0] == JOT_DESTINATION:
        return False
    return not approver_scopes(session, identity_id, now).isdisjoint(resource_chain(resource))
