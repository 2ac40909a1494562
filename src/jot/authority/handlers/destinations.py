"""Destinations: the audiences tokens are issued for. ``jot`` itself is one and stays."""

from __future__ import annotations

from sqlalchemy import delete, select

from jot.api.destinations import Destination as DestinationOut
from jot.api.destinations import DestinationCreate, DestinationList, DestinationUpdate
from jot.api.openid import OidcClient, OidcClientSpec
from jot.authority import access, grants_store, paging
from jot.authority.context import Context
from jot.authority.credentials import new_id
from jot.authority.errors import BadRequest, Conflict, NotFound
from jot.authority.handlers import clusters, sealing
from jot.authority.models import Destination, Grant
from jot.authority.openid import clients
from jot.authority.openid.models import OidcClientRow

__all__ = [
    "create_destination",
    "delete_destination",
    "get_destination",
    "list_destinations",
    "update_destination",
]


def _out(row: Destination, oidc: OidcClient | None = None) -> DestinationOut:
    return DestinationOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        lifetime=row.lifetime,
        group_narrowing=row.group_narrowing,
        created=row.created,
        updated=row.updated,
        oidc=oidc,
        encryption_key=sealing.shown(row),
        cluster_server=row.cluster_server,
        cluster_ca=row.cluster_ca,
    )


def _oidc(ctx: Context, row: Destination) -> OidcClient | None:
    found = ctx.session.get(OidcClientRow, row.id)
    return clients.to_api(found, row.name) if found is not None else None


def _get(ctx: Context, name: str) -> Destination:
    row = ctx.session.scalars(select(Destination).where(Destination.name == name)).first()
    if row is None:
        raise NotFound(f"no destination named {name!r}")
    return row


def list_destinations(
    ctx: Context, q: str | None = None, after: str | None = None, limit: int | None = None
) -> DestinationList:
    """Every destination; for a connector, the ones it is bound to. By name; ``q``, ``after``
    and ``limit`` page (:mod:`jot.authority.paging`)."""
    stmt = paging.keyed(select(Destination), Destination.name, after=after, limit=limit, prefix=q)
    if not access.reads_everything(ctx.roles):
        mine = access.connector_destinations(ctx.session, ctx.me().id, ctx.now)
        stmt = stmt.where(Destination.name.in_(mine))
    rows = list(ctx.session.scalars(stmt))
    registered = {
        found.destination_id: found
        for found in ctx.session.scalars(
            select(OidcClientRow).where(OidcClientRow.destination_id.in_([r.id for r in rows]))
        )
    }
    return DestinationList(
        items=[
            _out(
                row, clients.to_api(registered[row.id], row.name) if row.id in registered else None
            )
            for row in rows
        ]
    )


def get_destination(ctx: Context, name: str) -> DestinationOut:
    access.check_destination(ctx.session, ctx.me().id, ctx.roles, name, ctx.now)
    row = _get(ctx, name)
    return _out(row, _oidc(ctx, row))


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
    clusters.apply(row, body.cluster_server, body.cluster_ca)
    ctx.session.add(row)
    ctx.session.flush()
    oidc = _register(ctx, row, body.oidc) if body.oidc is not None else None
    if body.encryption_key is not None:
        sealing.apply(ctx, row, body.encryption_key)
    ctx.audit(
        "destination.created", body.name, kind=body.kind, lifetime=body.lifetime,
        cluster_server=row.cluster_server,
    )  # fmt: skip
    return _out(row, oidc)


def _register(ctx: Context, row: Destination, spec: OidcClientSpec) -> OidcClient:
    if row.name == access.JOT_DESTINATION:
        raise BadRequest("the 'jot' destination cannot be an OpenID client")
    oidc = clients.register(ctx.session, row, spec, ctx.now)
    ctx.audit(
        "destination.oidc_registered", row.name, auth_method=spec.auth_method,
        redirect_uris=oidc.redirect_uris, new_secret=oidc.client_secret is not None,
    )  # fmt: skip
    return oidc


def update_destination(ctx: Context, name: str, body: DestinationUpdate) -> DestinationOut:
    row = _get(ctx, name)
    changes = body.model_dump(
        exclude_none=True,
        exclude={"oidc", "new_client_secret", "remove_oidc", "cluster_server", "cluster_ca",
                 "remove_cluster"},
    )  # fmt: skip
    if name == access.JOT_DESTINATION and "kind" in changes:
        raise BadRequest("the kind of the 'jot' destination cannot change")
    for field, value in changes.items():
        setattr(row, field, value)
    clusters.apply(row, body.cluster_server, body.cluster_ca, remove=body.remove_cluster)
    if body.cluster_server is not None or body.cluster_ca is not None or body.remove_cluster:
        changes["cluster_server"] = row.cluster_server
        changes["cluster_ca"] = row.cluster_ca is not None
    row.updated = ctx.now
    ctx.audit("destination.updated", name, **changes)
    return _out(row, _update_oidc(ctx, row, body))


def _update_oidc(ctx: Context, row: Destination, body: DestinationUpdate) -> OidcClient | None:
    if body.remove_oidc:
        if body.oidc is not None or body.new_client_secret:
            raise BadRequest("remove_oidc cannot be combined with oidc or new_client_secret")
        if clients.unregister(ctx.session, row.id):
            ctx.audit("destination.oidc_removed", row.name)
        return None
    oidc = _register(ctx, row, body.oidc) if body.oidc is not None else _oidc(ctx, row)
    if not body.new_client_secret:
        return oidc
    found = ctx.session.get(OidcClientRow, row.id)
    if found is None or found.secret_hash is None:
        raise BadRequest(f"{row.name!r} is not an OpenID client with a client secret")
    secret = clients.new_secret(found)
    ctx.audit("destination.oidc_secret_changed", row.name)
    return clients.to_api(found, row.name, secret)


def delete_destination(ctx: Context, name: str) -> None:
    if name == access.JOT_DESTINATION:
        raise BadRequest("the 'jot' destination guards this API and cannot be deleted")
    row = _get(ctx, name)
    # The connector grants that name it go too: a later destination of the same name must
    # not hand its grants to the old one's connector.
    connector = f"{access.JOT_DESTINATION}.{name}"
    ctx.session.execute(delete(Grant).where(Grant.resource == connector))
    clients.unregister(ctx.session, row.id)
    ctx.session.delete(row)
    grants_store.bump(ctx)
    ctx.audit("destination.deleted", name)
