"""Access keys, signing keys, JWKS and OIDC discovery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from jot.api.keys import AccessKey as AccessKeyOut
from jot.api.keys import AccessKeyCreate, AccessKeyList, NewAccessKey, SigningKeyList
from jot.authority.context import Context, load_identity
from jot.authority.credentials import hash_secret, new_access_key
from jot.authority.errors import BadRequest, Forbidden, NotFound
from jot.authority.models import AccessKey, Identity
from jot.authority.state import Authority

__all__ = [
    "create_access_key",
    "jwks",
    "list_access_keys",
    "list_signing_keys",
    "openid_configuration",
    "revoke_access_key",
    "rotate_signing_key",
]


def _out(row: AccessKey, identity: str) -> AccessKeyOut:
    return AccessKeyOut(
        id=row.id,
        identity=identity,
        name=row.name,
        created=row.created,
        expires=row.expires,
        inactivity_timeout=row.inactivity_timeout,
        last_used=row.last_used,
        revoked=row.revoked,
    )


def _may_see_all(ctx: Context) -> bool:
    return bool(ctx.roles & {"admin", "view"})


def list_access_keys(ctx: Context, identity: str | None = None) -> AccessKeyList:
    """Everyone's keys for admins and viewers; one's own keys for everyone else."""
    me = ctx.me()
    stmt = select(AccessKey, Identity.name).join(Identity, Identity.id == AccessKey.identity_id)
    if not _may_see_all(ctx):
        if identity not in (None, me.name):
            raise Forbidden("you may list only your own access keys")
        identity = me.name
    if identity is not None:
        stmt = stmt.where(Identity.name == identity)
    rows = ctx.session.execute(stmt.order_by(Identity.name, AccessKey.created))
    return AccessKeyList(items=[_out(key, name) for key, name in rows])


def create_access_key(ctx: Context, body: AccessKeyCreate) -> NewAccessKey:
    me = ctx.me()
    if "admin" not in ctx.roles and body.identity != me.name:
        raise Forbidden("you may create access keys only for yourself")
    owner = load_identity(ctx.session, body.identity)
    if owner is None:
        raise NotFound(f"no identity named {body.identity!r}")
    settings = ctx.authority.settings
    ttl = settings.access_key_lifetime if body.ttl is None else body.ttl
    idle = (
        settings.access_key_inactivity
        if body.inactivity_timeout is None
        else body.inactivity_timeout
    )
    if 0 < idle < 60:
        raise BadRequest("inactivity_timeout is 0 (never) or at least 60 seconds")
    key_id, secret, full = new_access_key()
    row = AccessKey(
        id=key_id,
        identity_id=owner.id,
        name=body.name,
        secret_hash=hash_secret(secret),
        created=ctx.now,
        expires=ctx.now + timedelta(seconds=ttl) if ttl else None,
        inactivity_timeout=idle or None,
        last_used=ctx.now,
        revoked=None,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("access_key.created", owner.name, access_key=key_id, name=body.name)
    return NewAccessKey(access_key=full, key=_out(row, owner.name))


def revoke_access_key(ctx: Context, key_id: str) -> None:
    me = ctx.me()
    row = ctx.session.get(AccessKey, key_id)
    if row is None or ("admin" not in ctx.roles and row.identity_id != me.id):
        raise NotFound(f"no access key with id {key_id!r}")
    if row.revoked is None:
        row.revoked = ctx.now
        ctx.audit("access_key.revoked", key_id)


def list_signing_keys(ctx: Context) -> SigningKeyList:
    return SigningKeyList(items=ctx.authority.keyring.listing(ctx.session))


def rotate_signing_key(ctx: Context) -> SigningKeyList:
    """Emergency rotation: the signing key is revoked at once and a new one signs."""
    keyring = ctx.authority.keyring
    keyring.rotate_now(ctx.session, actor=ctx.actor, client=ctx.client)
    ctx.after_commit.append(lambda: keyring.refresh(force=True))
    return SigningKeyList(items=keyring.listing(ctx.session))


async def jwks(request: Request) -> Response:
    """The published keys. Served from memory; the key table is read at most every
    ``key_reload_interval`` seconds, off the event loop."""
    authority: Authority = request.app.state.authority
    keyring = authority.keyring
    body = keyring.cached_jwks() or await run_in_threadpool(keyring.jwks_json)
    max_age = authority.settings.jwks_max_age
    return Response(
        body,
        headers={"Cache-Control": f"public, max-age={max_age}"},
        media_type="application/jwk-set+json",
    )


def openid_configuration(request: Request) -> dict[str, Any]:
    authority: Authority = request.app.state.authority
    issuer = authority.settings.issuer_url
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "token_endpoint": f"{issuer}/api/tokens",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [authority.settings.signing_alg],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "name",
            "groups",
            "iat",
            "nbf",
            "exp",
            "nonce",
            "jti",
        ],
    }
