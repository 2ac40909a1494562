"""Destinations: the audiences tokens are issued for. ``jot`` itself is one and stays."""

from __future__ import annotations

from sqlalchemy import delete, select

from jot.api.destinations import Destination as DestinationOut
from jot.api.destinations import DestinationCreate, DestinationList, DestinationUpdate
from jot.authority import access, grants_store
from jot.authority.context import Context
from jot.authority.credentials import new_id
from jot.authority.errors import BadRequest, Conflict, NotFound
from jot.authority.models import Destination, Grant

__all__ = [
    "create_destination",
    "delete_destination",
    "get_destination",
    "list_destinations",
    "update_destination",
]


def _out(row: Destination) -> DestinationOut:
    return DestinationOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        lifetime=row.lifetime,
        group_narrowing=row.group_narrowing,
        created=row.created,
        updated=row.updated,
    )


def _get(ctx: Context, name: str) -> Destination:
    row = ctx.session.scalars(select(Destination).where(Destination.name == name)).first()
    if row is None:
        raise NotFound(f"no destination named {name!r}")
    return row


def list_destinations(ctx: Context) -> DestinationList:
    """Every destination; for a connector, the ones it is bound to."""
    stmt = select(Destination).order_by(Destination.name)
    if not access.reads_everything(ctx.roles):
        mine = access.connector_destinations(ctx.session, ctx.me().id)
        stmt = stmt.where(Destination.name.in_(mine))
    return DestinationList(items=[_out(row) for row in ctx.session.scalars(stmt)])


def get_destination(ctx: Context, name: str) -> DestinationOut:
    access.check_destination(ctx.session, ctx.me().id, ctx.roles, name)
    return _out(_get(ctx, name))


def create_destination(ctx: Context, body: DestinationCreate) -> DestinationOut:
    stmt = select(Destination).where(Destination.name == body.name)
    if ctx.session.scalars(stmt).first() is not None:
        raise Conflict(f"a destination named {body.name!r} already exists")
    row = Destination(
        id=new_id(),
        name=body.name,
        kind=body.kind,
        lifetime=body.lifetime,
        group_narrowing=body.group_narrowing,
        created=ctx.now,
        updated=ctx.now,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("destination.created", body.name, kind=body.kind, lifetime=body.lifetime)
    return _out(row)


def update_destination(ctx: Context, name: str, body: DestinationUpdate) -> DestinationOut:
    row = _get(ctx, name)
    changes = body.model_dump(exclude_none=True)
    if name == access.JOT_DESTINATION and "kind" in changes:
        raise BadRequest("the kind of the 'jot' destination cannot change")
    for field, value in changes.items():
        setattr(row, field, value)
    row.updated = ctx.now
    ctx.audit("destination.updated", name, **changes)
    return _out(row)


def delete_destination(ctx: Context, name: str) -> None:
    if name == access.JOT_DESTINATION:
        raise BadRequest("the 'jot' destination guards this API and cannot be deleted")
    row = _get(ctx, name)
    # The connector grants that name it go too: a later destination of the same name must
    # not hand its grants to the old one's connector.
    connector = f"{access.JOT_DESTINATION}.{name}"
    ctx.session.execute(delete(Grant).where(Grant.resource == connector))
    ctx.session.delete(row)
    grants_store.bump(ctx)
    ctx.audit("destination.deleted", name)
