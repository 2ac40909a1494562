"""Explain access: "would destination D accept this user or group at resource R, with which
roles, and if not, why" (``GET /api/explain``), and the same for the caller's every
destination ("My access", ``GET /api/my-access``).

Nothing here decides anything of its own: whether a token is issued is
:func:`jot.authority.tokens.decide`, the token endpoint's decision, and the roles are
:func:`jot.api.roles.decide`, the destinations' rule; this module only lists the grants
they read, so that a person can see why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from jot.api._base import Resource, Subject
from jot.api.explain import AccessList, Explanation, Source
from jot.api.identities import fold_name
from jot.api.roles import Held, applies, decide, subjects_of
from jot.authority import access, revocations, tokens
from jot.authority.authcache import Caller
from jot.authority.clock import to_datetime
from jot.authority.context import Context, load_identity
from jot.authority.errors import APIError, BadRequest, NotFound
from jot.authority.handlers import clusters
from jot.authority.models import Destination, Grant, Group

__all__ = ["explain", "my_access"]

# Each grant with its destination's name and, for a group's grant, the group's name.
_GRANTS = (
    select(Grant.resource, Grant.role, Group.name, Destination.name, Grant.expires)
    .outerjoin(Group, Group.id == Grant.group_id)
    .join(Destination, Destination.id == Grant.destination_id)
    .order_by(Grant.resource, Grant.role)
)

# The wire types' own rules for the two query parameters.
_SUBJECT: TypeAdapter[str] = TypeAdapter(Subject)
_RESOURCE: TypeAdapter[str] = TypeAdapter(Resource)


_Row = tuple[str, str, str | None, str, datetime | None]


def _held(rows: Sequence[_Row], name: str) -> dict[str, list[Held]]:
    grants: dict[str, list[Held]] = {}
    for resource, role, group, _destination, expires in rows:
        subject = "user:" + name if group is None else "group:" + group
        ends = None if expires is None else expires.timestamp()
        grants.setdefault(subject, []).append(Held(resource, role, ends))
    return grants


def _explained(
    session: Session,
    subject: str,
    caller: Caller | None,
    groups: Sequence[str],
    resource: str,
    rows: Sequence[_Row],
    now: float,
) -> Explanation:
    """The explanation for ``caller`` (``None``: a group, named in ``groups``) at
    ``resource``, from ``rows``, its grants on that resource's destination."""
    destination = resource.partition(".")[0]
    name = caller.name if caller is not None else ""
    grants = _held(rows, name)
    me = caller.id if caller is not None else ""
    denied = revocations.of_subject(session, me, to_datetime(now)) if caller is not None else {}
    sources = [
        Source(
            subject=who, role=held.role, resource=held.resource,
            applies=applies(held, resource, now),
            lapsed=applies(held._replace(expires=None), resource, now)
            and not applies(held, resource, now),
            expires=None if held.expires is None else to_datetime(held.expires),
        )
        for who in subjects_of(name, groups)
        if caller is not None or who.startswith("group:")
        for held in grants.get(who, ())
    ]  # fmt: skip
    out = Explanation(
        subject=subject,
        destination=destination,
        resource=resource,
        token=False,
        roles=sorted(
            decide(name, groups, resource, grants, subject=me, denied=denied, now=now).roles
        ),
        sources=sources,
    )
    try:
        if caller is not None:
            decision = tokens.decide(session, caller, groups, destination, now=now)
            out.lifetime, out.token_groups = decision.lifetime, list(decision.groups)
        elif not decide(name, groups, destination, grants, now=now).token:
            raise NotFound(f"{subject} holds no grant on {destination!r}")
    except APIError as exc:
        out.reason = exc.message
        return out
    out.token = True
    return out


def explain(ctx: Context, subject: str, resource: str) -> Explanation:
    """Would the destination of ``resource`` accept ``subject`` (``user:NAME`` or
    ``group:NAME``) there, with which roles, and if not, why."""
    for adapter, value, shape in (
        (_SUBJECT, subject, "subject: user:NAME or group:NAME"),
        (_RESOURCE, resource, "resource: DESTINATION or DESTINATION.SUB-RESOURCE"),
    ):
        try:
            adapter.validate_python(value)
        except ValidationError:
            raise BadRequest(shape) from None
    destination = resource.partition(".")[0]
    found = ctx.session.scalars(select(Destination.id).where(Destination.name == destination))
    if found.first() is None:
        raise NotFound(f"no destination named {destination!r}")
    kind, _, name = subject.partition(":")
    now = ctx.now.timestamp()
    on_destination = _GRANTS.where(Destination.name == destination)
    if kind == "user":
        identity = load_identity(ctx.session, name)
        if identity is None:
            raise NotFound(f"no identity named {name!r}")
        caller = Caller(identity.id, identity.name, identity.kind)
        groups = access.group_names(ctx.session, identity.id)
        rows = ctx.session.execute(on_destination.where(access.held_by(identity.id))).all()
        return _explained(
            ctx.session, f"user:{identity.name}", caller, groups, resource, list(rows), now
        )
    group = ctx.session.scalars(select(Group).where(Group.name_key == fold_name(name))).first()
    if group is None:
        raise NotFound(f"no group named {name!r}")
    rows = ctx.session.execute(on_destination.where(Grant.group_id == group.id)).all()
    return _explained(
        ctx.session, f"group:{group.name}", None, [group.name], resource, list(rows), now
    )


def my_access(ctx: Context) -> AccessList:
    """The caller's access: each destination where the caller or one of its groups holds a
    grant, the roles there, from which grant, and the token the authority issues for it."""
    me = ctx.me()
    rows = ctx.session.execute(_GRANTS.where(access.held_by(me.id))).all()
    by_destination: dict[str, list[_Row]] = {}
    for row in rows:
        by_destination.setdefault(row[3], []).append(tuple(row))  # type: ignore[arg-type]
    caller = Caller(me.id, me.name, me.kind)
    if not by_destination:
        return AccessList(items=[])
    items = [
        _explained(
            ctx.session, f"user:{me.name}", caller, ctx.groups, name, grants, ctx.now.timestamp()
        )
        for name, grants in sorted(by_destination.items())
    ]
    named = select(Destination.name, Destination.cluster_server).where(
        Destination.name.in_(by_destination), Destination.kind == clusters.KUBERNETES
    )
    servers: dict[str, str | None] = dict(ctx.session.execute(named).all())
    for item in items:
        item.cluster_server = servers.get(item.destination) if item.token else None
    return AccessList(items=items)
