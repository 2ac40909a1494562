"""Users, machines, groups and memberships."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from jot.api.identities import (
    Group as GroupOut,
)
from jot.api.identities import (
    GroupCreate,
    GroupList,
    IdentityCreate,
    IdentityList,
    IdentityUpdate,
    MemberChange,
    fold_name,
)
from jot.api.identities import (
    Identity as IdentityOut,
)
from jot.authority import access, grants_store, lineage, paging, revocations
from jot.authority.context import Context, load_identity
from jot.authority.credentials import hash_password, new_id
from jot.authority.errors import BadRequest, Conflict, NotFound
from jot.authority.models import Group, Identity, Membership

__all__ = [
    "add_member",
    "create_group",
    "create_identity",
    "delete_group",
    "delete_identity",
    "get_group",
    "get_identity",
    "list_groups",
    "list_identities",
    "remove_member",
    "update_identity",
]


def _identity_out(ctx: Context, row: Identity) -> IdentityOut:
    return IdentityOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        has_password=row.password_hash is not None,
        groups=access.group_names(ctx.session, row.id),
        created=row.created,
        updated=row.updated,
    )


def _identity(ctx: Context, name: str) -> Identity:
    row = load_identity(ctx.session, name)
    if row is None:
        raise NotFound(f"no identity named {name!r}")
    return row


def list_identities(
    ctx: Context, q: str | None = None, after: str | None = None, limit: int | None = None
) -> IdentityList:
    """By name; ``q`` keeps the names that start with it (case does not count), ``limit``
    and ``after`` (the last name seen) page (:mod:`jot.authority.paging`)."""
    rows = ctx.session.scalars(_by_name(Identity, q, after, limit))
    return IdentityList(items=[_identity_out(ctx, row) for row in rows])


def _by_name(
    model: type[Identity] | type[Group], q: str | None, after: str | None, limit: int | None
) -> Any:
    """Identities or groups by name (case does not count), paged (:mod:`jot.authority.paging`)."""
    return paging.keyed(
        select(model),
        model.name_key,
        after=fold_name(after) if after is not None else None,
        limit=limit,
        prefix=fold_name(q) if q else None,
    )


def get_identity(ctx: Context, name: str) -> IdentityOut:
    return _identity_out(ctx, _identity(ctx, name))


def _name_free(ctx: Context, name: str) -> None:
    found = load_identity(ctx.session, name)
    if found is not None:
        raise Conflict(f"an identity named {found.name!r} already exists (case does not count)")


def create_identity(ctx: Context, body: IdentityCreate) -> IdentityOut:
    _name_free(ctx, body.name)
    if body.kind == "machine" and body.password is not None:
        raise BadRequest("machine identities have no password; give them access keys")
    password = body.password.get_secret_value() if body.password else None
    row = Identity(
        id=new_id(),
        name=body.name,
        kind=body.kind,
        password_hash=hash_password(password) if password else None,
        created=ctx.now,
        updated=ctx.now,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("identity.created", body.name, kind=body.kind)
    return _identity_out(ctx, row)


def update_identity(ctx: Context, name: str, body: IdentityUpdate) -> IdentityOut:
    row = _identity(ctx, name)
    if body.name is not None and body.name != row.name:
        if fold_name(body.name) != row.name_key:
            _name_free(ctx, body.name)
        # Grants and memberships hold the id, so they follow the identity to its new name.
        ctx.audit("identity.renamed", row.name, new_name=body.name)
        row.name, row.updated = body.name, ctx.now
    if body.password is not None:
        if row.kind == "machine":
            raise BadRequest("machine identities have no password; give them access keys")
        row.password_hash = hash_password(body.password.get_secret_value())
        row.updated = ctx.now
        ctx.audit("identity.password_set", row.name)
    if body.revoke_access_keys:
        keep = ctx.caller.key_id if ctx.caller is not None and row.id == ctx.caller.id else None
        revoked = lineage.revoke_identity(ctx.session, row.id, ctx.now, keep=keep)
        ctx.audit("identity.access_keys_revoked", row.name, access_keys=revoked)
    return _identity_out(ctx, row)


def delete_identity(ctx: Context, name: str) -> None:
    row = _identity(ctx, name)
    if ctx.caller is not None and row.id == ctx.caller.id:
        raise BadRequest("you cannot delete the identity you are logged in as")
    grants_store.delete_for_subject(ctx, grants_store.Subject(row.id, None, f"user:{row.name}"))
    # Its tokens still carry its name, and destinations give roles by name: someone given
    # that name next would lend them their grants until they expire. Refused everywhere.
    revocations.deny(
        ctx.session, "subject", row.id, f"user:{row.name}", ctx.now,
        actor=ctx.actor, reason="identity deleted",
    )  # fmt: skip
    grants_store.bump(ctx)
    ctx.session.delete(row)
    ctx.audit("identity.deleted", row.name)


def _group_out(ctx: Context, row: Group) -> GroupOut:
    stmt = (
        select(Identity.name)
        .join(Membership, Membership.identity_id == Identity.id)
        .where(Membership.group_id == row.id)
        .order_by(Identity.name)
    )
    return GroupOut(
        id=row.id, name=row.name, members=list(ctx.session.scalars(stmt)), created=row.created
    )


def _group(ctx: Context, name: str) -> Group:
    row = ctx.session.scalars(select(Group).where(Group.name_key == fold_name(name))).first()
    if row is None:
        raise NotFound(f"no group named {name!r}")
    return row


def list_groups(
    ctx: Context, q: str | None = None, after: str | None = None, limit: int | None = None
) -> GroupList:
    """By name; ``q``, ``after`` and ``limit`` as for identities."""
    rows = ctx.session.scalars(_by_name(Group, q, after, limit))
    return GroupList(items=[_group_out(ctx, row) for row in rows])


def get_group(ctx: Context, name: str) -> GroupOut:
    return _group_out(ctx, _group(ctx, name))


def create_group(ctx: Context, body: GroupCreate) -> GroupOut:
    stmt = select(Group.name).where(Group.name_key == fold_name(body.name))
    found = ctx.session.scalars(stmt).first()
    if found is not None:
        raise Conflict(f"a group named {found!r} already exists (case does not count)")
    row = Group(id=new_id(), name=body.name, created=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("group.created", body.name)
    return _group_out(ctx, row)


def delete_group(ctx: Context, name: str) -> None:
    row = _group(ctx, name)
    grants_store.delete_for_subject(ctx, grants_store.Subject(None, row.id, f"group:{row.name}"))
    ctx.session.delete(row)
    ctx.audit("group.deleted", row.name)


def add_member(ctx: Context, name: str, body: MemberChange) -> GroupOut:
    group, identity = _group(ctx, name), _identity(ctx, body.name)
    if ctx.session.get(Membership, (group.id, identity.id)) is None:
        ctx.session.add(Membership(group_id=group.id, identity_id=identity.id))
        ctx.session.flush()
        ctx.audit("group.member_added", name, member=body.name)
    return _group_out(ctx, group)


def remove_member(ctx: Context, name: str, member: str) -> None:
    group, identity = _group(ctx, name), _identity(ctx, member)
    result = ctx.session.execute(
        delete(Membership).where(
            Membership.group_id == group.id, Membership.identity_id == identity.id
        )
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound(f"{member!r} is not a member of {name!r}")
    ctx.audit("group.member_removed", name, member=member)
