"""Admin handlers for providers: add, list, show, update, remove.

The client secret is sealed under the root key with the provider's id as associated data and
is never returned; the listing says only whether one is set.
"""

from __future__ import annotations

import json

from sqlalchemy import delete, select

from jot.api.providers import Provider as ProviderOut
from jot.api.providers import ProviderCreate, ProviderList, ProviderNames, ProviderUpdate
from jot.authority.context import Context
from jot.authority.credentials import new_id
from jot.authority.errors import Conflict, NotFound
from jot.authority.models import Membership
from jot.authority.oidc import accounts
from jot.authority.oidc.models import Provider, ProviderMembership
from jot.authority.oidc.sealed import open_secret, provider_where, seal
from jot.authority.state import Authority

__all__ = [
    "callback_url",
    "client_secret",
    "create_provider",
    "delete_provider",
    "get_provider",
    "list_providers",
    "load_provider",
    "provider_names",
    "update_provider",
]


def callback_url(authority: Authority, name: str) -> str:
    """The exact redirect URI to register at the provider, one per provider."""
    return f"{authority.settings.issuer_url}/oidc/{name}/callback"


def client_secret(authority: Authority, row: Provider) -> str | None:
    if row.client_secret_enc is None:
        return None
    return open_secret(authority, row.client_secret_enc, where=provider_where(row.id))


def _out(ctx: Context, row: Provider) -> ProviderOut:
    return ProviderOut(
        name=row.name,
        issuer=row.issuer,
        client_id=row.client_id,
        has_client_secret=row.client_secret_enc is not None,
        scopes=json.loads(row.scopes),
        email_claim=row.email_claim,
        name_claim=row.name_claim,
        groups_claim=row.groups_claim,
        allowed_domains=json.loads(row.allowed_domains),
        revalidate_after=row.revalidate_after,
        verifies_email=row.verifies_email,
        redirect_uri=callback_url(ctx.authority, row.name),
        created=row.created,
        updated=row.updated,
    )


def load_provider(ctx: Context, name: str) -> Provider:
    row = ctx.session.scalars(select(Provider).where(Provider.name == name)).first()
    if row is None:
        raise NotFound(f"no provider named {name!r}")
    return row


def _scopes(scopes: list[str]) -> str:
    # "openid" makes it an OpenID Connect request; it is always sent, and sent once.
    return json.dumps(["openid", *dict.fromkeys(s for s in scopes if s != "openid")])


def provider_names(ctx: Context) -> ProviderNames:
    return ProviderNames(
        items=list(ctx.session.scalars(select(Provider.name).order_by(Provider.name)))
    )


def list_providers(ctx: Context) -> ProviderList:
    rows = ctx.session.scalars(select(Provider).order_by(Provider.name))
    return ProviderList(items=[_out(ctx, row) for row in rows])


def get_provider(ctx: Context, name: str) -> ProviderOut:
    return _out(ctx, load_provider(ctx, name))


def create_provider(ctx: Context, body: ProviderCreate) -> ProviderOut:
    exists = ctx.session.scalars(select(Provider.id).where(Provider.name == body.name)).first()
    if exists is not None:
        raise Conflict(f"a provider named {body.name!r} already exists")
    row = Provider(
        id=new_id(),
        name=body.name,
        issuer=body.issuer.rstrip("/"),
        client_id=body.client_id,
        client_secret_enc=None,
        scopes=_scopes(body.scopes),
        email_claim=body.email_claim,
        name_claim=body.name_claim,
        groups_claim=body.groups_claim,
        allowed_domains=json.dumps(sorted({d.lower() for d in body.allowed_domains})),
        revalidate_after=body.revalidate_after,
        verifies_email=body.verifies_email,
        created=ctx.now,
        updated=ctx.now,
    )
    if body.client_secret is not None:
        secret = body.client_secret.get_secret_value()
        row.client_secret_enc = seal(ctx.authority, secret, where=provider_where(row.id))
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("provider.created", row.name, issuer=row.issuer, client_id=row.client_id)
    return _out(ctx, row)


def update_provider(ctx: Context, name: str, body: ProviderUpdate) -> ProviderOut:
    row = load_provider(ctx, name)
    changed = sorted(body.model_fields_set - {"client_secret"})
    fields = ("client_id", "email_claim", "name_claim", "groups_claim", "revalidate_after")
    for field in (*fields, "verifies_email"):
        value = getattr(body, field)
        if value is not None:
            setattr(row, field, value)
    if body.issuer is not None:
        row.issuer = body.issuer.rstrip("/")
    if body.scopes is not None:
        row.scopes = _scopes(body.scopes)
    if body.allowed_domains is not None:
        row.allowed_domains = json.dumps(sorted({d.lower() for d in body.allowed_domains}))
    if body.client_secret is not None:
        secret = body.client_secret.get_secret_value()
        row.client_secret_enc = seal(ctx.authority, secret, where=provider_where(row.id))
        changed.append("client_secret")
    row.updated = ctx.now
    ctx.audit("provider.updated", row.name, fields=changed)
    return _out(ctx, row)


def delete_provider(ctx: Context, name: str) -> None:
    """Remove the provider: the access keys and group memberships that came from it go too;
    the users stay (with their jot-managed groups)."""
    row = load_provider(ctx, name)
    revoked = accounts.revoke(ctx.session, row.id, None, ctx.now)
    made = select(ProviderMembership).where(ProviderMembership.provider_id == row.id)
    for membership in ctx.session.scalars(made):
        ctx.session.execute(
            delete(Membership).where(
                Membership.identity_id == membership.identity_id,
                Membership.group_id == membership.group_id,
            )
        )
    ctx.session.delete(row)
    ctx.audit("provider.deleted", name, revoked_access_keys=len(revoked))
