"""Access keys, signing keys, JWKS and OIDC discovery."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from jot.api.identities import fold_name
from jot.api.keys import AccessKey as AccessKeyOut
from jot.api.keys import AccessKeyCreate, AccessKeyList, NewAccessKey, SigningKeyList
from jot.authority import access, lineage, paging
from jot.authority.context import Context, load_identity
from jot.authority.credentials import hash_secret, new_access_key
from jot.authority.errors import BadRequest, Forbidden, NotFound, Unauthorized
from jot.authority.models import AccessKey, Identity
from jot.authority.state import Authority

__all__ = [
    "create_access_key",
    "jwks",
    "list_access_keys",
    "list_signing_keys",
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
        parent=row.parent_id,
    )


def list_access_keys(
    ctx: Context, identity: str | None = None, after: str | None = None, limit: int | None = None
) -> AccessKeyList:
    """Everyone's keys for admins and viewers; one's own keys for everyone else. With
    ``limit``, by id, from after ``after`` (:mod:`jot.authority.paging`)."""
    me = ctx.me()
    stmt = select(AccessKey, Identity.name).join(Identity, Identity.id == AccessKey.identity_id)
    if not access.reads_everything(ctx.roles):
        if identity is not None and fold_name(identity) != fold_name(me.name):
            raise Forbidden("you may list only your own access keys")
        identity = me.name
    if identity is not None:
        stmt = stmt.where(Identity.name_key == fold_name(identity))
    stmt = stmt.order_by(Identity.name, AccessKey.created)
    if limit is not None or after is not None:
        stmt = paging.keyed(stmt, AccessKey.id, after=after, limit=limit)
    rows = ctx.session.execute(stmt)
    return AccessKeyList(items=[_out(key, name) for key, name in rows])


def _parent(ctx: Context) -> AccessKey:
    """The caller's key, locked until the end of the transaction, so that a revocation that
    commits meanwhile either sees the new key (and revokes it) or is seen here."""
    key_id = ctx.me().key_id
    row = ctx.session.get(AccessKey, key_id, with_for_update=True) if key_id is not None else None
    if row is None or row.revoked is not None:
        raise Unauthorized("this access key was revoked; log in again")
    if row.expires is not None and row.expires <= ctx.now:
        raise Unauthorized("this access key has expired; log in again")
    return row


def create_access_key(ctx: Context, body: AccessKeyCreate) -> NewAccessKey:
    me = ctx.me()
    owner = load_identity(ctx.session, body.identity)
    if "admin" not in ctx.roles and (owner is None or owner.id != me.id):
        raise Forbidden("you may create access keys only for yourself")
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
    expires = ctx.now + timedelta(seconds=ttl) if ttl else None
    idle_or_none: int | None = idle or None
    # A key for oneself is made from the key in hand and never outlives it (lineage.py);
    # a key an admin makes for another identity starts a line of its own.
    parent = _parent(ctx) if owner.id == me.id else None
    if parent is not None:
        expires, idle_or_none = lineage.bounded(parent, expires, idle_or_none)
    key_id, secret, full = new_access_key()
    row = AccessKey(
        id=key_id,
        identity_id=owner.id,
        name=body.name,
        secret_hash=hash_secret(secret),
        created=ctx.now,
        expires=expires,
        inactivity_timeout=idle_or_none,
        last_used=ctx.now,
        revoked=None,
        parent_id=parent.id if parent is not None else None,
        origin_id=lineage.origin_of(parent) if parent is not None else None,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit(
        "access_key.created", owner.name, access_key=key_id, name=body.name, parent=row.parent_id
    )
    return NewAccessKey(access_key=full, key=_out(row, owner.name))


def revoke_access_key(ctx: Context, key_id: str) -> None:
    """Revoke the key and, transitively, every key made from it."""
    me = ctx.me()
    row = ctx.session.get(AccessKey, key_id)
    if row is None or ("admin" not in ctx.roles and row.identity_id != me.id):
        raise NotFound(f"no access key with id {key_id!r}")
    revoked = lineage.revoke(ctx.session, [key_id], ctx.now)
    if revoked:
        derived = [k for k in revoked if k != key_id]
        ctx.audit("access_key.revoked", key_id, derived_access_keys=derived)


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
