"""Logging in and out, whoami and password changes (tokens: :mod:`jot.authority.tokens`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from jot.api.session import LoginRequest, LoginResponse, PasswordChange, WhoAmI
from jot.authority import lineage
from jot.authority.authcache import Caller
from jot.authority.context import Context, load_identity, reads_first
from jot.authority.credentials import (
    hash_password,
    hash_secret,
    new_access_key,
    verify_password,
)
from jot.authority.errors import BadRequest, Forbidden, TooManyRequests, Unauthorized
from jot.authority.middleware import LOGINS
from jot.authority.models import AccessKey, Identity

__all__ = ["change_password", "login", "logout", "whoami"]


@reads_first
def login(ctx: Context, body: LoginRequest) -> LoginResponse:
    """Name and password → a new access key. Failures are limited, backed off and audited."""
    limits, settings = ctx.authority.limits, ctx.authority.settings
    lifetime = settings.access_key_lifetime
    if body.ttl is not None and body.ttl > lifetime:
        raise BadRequest(f"ttl: a login's key lives at most {_days(lifetime)} here")
    wait = limits.password_turn(body.name, ctx.client)
    if wait > 0:
        ctx.audit_refusal("login.locked", body.name)
        LOGINS.labels("locked").inc()
        raise TooManyRequests("too many failed logins; try again later", wait)
    identity = load_identity(ctx.session, body.name)
    # Always one argon2 verification, also for an unknown name (against a dummy hash), so
    # that the answer's timing does not tell which names exist.
    password_hash = identity.password_hash if identity is not None else None
    if not verify_password(body.password.get_secret_value(), password_hash) or identity is None:
        limits.password_failed(body.name, ctx.client)
        with ctx.writing():
            ctx.audit("login.failed", body.name)
        LOGINS.labels("failed").inc()
        raise Unauthorized("wrong name or password")
    limits.password_ok(body.name, ctx.client)
    expires = ctx.now + timedelta(seconds=body.ttl or lifetime)
    key_id, secret, full = new_access_key()
    ctx.caller = Caller(identity.id, identity.name, identity.kind)
    with ctx.writing():
        ctx.session.add(
            AccessKey(
                id=key_id,
                identity_id=identity.id,
                name=body.key_name or "login",
                secret_hash=hash_secret(secret),
                created=ctx.now,
                expires=expires,
                inactivity_timeout=settings.access_key_inactivity,
                last_used=ctx.now,
                revoked=None,
            )
        )
        ctx.audit("login.ok", identity.name, access_key=key_id, name=body.key_name or "login")
    LOGINS.labels("ok").inc()
    return LoginResponse(access_key=full, identity=identity.name, expires=expires)


def _days(seconds: int) -> str:
    return f"{seconds / 86400:g} days" if seconds >= 86400 else f"{seconds} seconds"


@reads_first
def change_password(ctx: Context, body: PasswordChange) -> None:
    """Set the caller's own password, given the current one. Wrong guesses are limited and
    backed off like failed logins (this must not be a way around the login lockout)."""
    me, limits = ctx.me(), ctx.authority.limits
    wait = limits.password_turn(me.name, ctx.client)
    if wait > 0:
        raise TooManyRequests("too many wrong passwords; try again later", wait)
    row = ctx.session.get(Identity, me.id)
    if row is None or row.password_hash is None:
        raise BadRequest(f"{me.name} has no password (it logs in with an access key or a provider)")
    if not verify_password(body.current.get_secret_value(), row.password_hash):
        limits.password_failed(me.name, ctx.client)
        with ctx.writing():
            ctx.audit("identity.password_change_failed", me.name)
        raise Forbidden("the current password is wrong")
    limits.password_ok(me.name, ctx.client)
    new_hash = hash_password(body.new.get_secret_value())
    with ctx.writing():
        ctx.session.execute(
            update(Identity).where(Identity.id == me.id).values(password_hash=new_hash)
        )
        revoked: list[str] = []
        if body.revoke_other_keys and me.key_id is not None:  # The key in hand stays.
            revoked = lineage.revoke_identity(ctx.session, me.id, ctx.now, keep=me.key_id)
        ctx.audit("identity.password_changed", me.name, revoked_access_keys=revoked)


def logout(ctx: Context) -> None:
    """Revoke the access key this request was made with."""
    key_id = ctx.me().key_id
    if key_id is None:
        raise Unauthorized()
    derived = [k for k in lineage.revoke(ctx.session, [key_id], ctx.now) if k != key_id]
    ctx.audit("logout", ctx.actor, access_key=key_id, derived_access_keys=derived)


def whoami(ctx: Context) -> WhoAmI:
    me = ctx.me()
    return WhoAmI(
        id=me.id,
        name=me.name,
        kind=me.kind,
        groups=ctx.groups,
        access_key=me.key_id or "",
        roles=sorted(ctx.roles),
    )
