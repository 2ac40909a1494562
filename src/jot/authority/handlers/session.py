"""Logging in and out, whoami, and issuing tokens."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from jot.api import TokenRequest, TokenResponse
from jot.api.session import LoginRequest, LoginResponse, PasswordChange, WhoAmI
from jot.authority import access, audit, lineage, signing
from jot.authority.authcache import Principal, TokenDecision
from jot.authority.clock import to_datetime
from jot.authority.context import Context, load_identity, reads_first, still_valid
from jot.authority.credentials import (
    hash_password,
    hash_secret,
    new_access_key,
    verify_password,
)
from jot.authority.errors import BadRequest, Forbidden, NotFound, TooManyRequests, Unauthorized
from jot.authority.middleware import LOGINS, count_token
from jot.authority.models import AccessKey, Destination, Grant, Group, Identity
from jot.authority.oidc.revalidate import is_plain, revalidate
from jot.authority.state import Authority
from jot.jose import Key

__all__ = [
    "change_password",
    "granted_groups",
    "issue_cached",
    "issue_token",
    "login",
    "logout",
    "token_for",
    "whoami",
]


@reads_first
def login(ctx: Context, body: LoginRequest) -> LoginResponse:
    """Name and password → a new access key. Failures are limited, backed off and audited."""
    limits, settings = ctx.authority.limits, ctx.authority.settings
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
    expires = ctx.now + timedelta(seconds=settings.access_key_lifetime)
    key_id, secret, full = new_access_key()
    ctx.identity = identity
    with ctx.writing():
        ctx.session.add(
            AccessKey(
                id=key_id,
                identity_id=identity.id,
                name="login",
                secret_hash=hash_secret(secret),
                created=ctx.now,
                expires=expires,
                inactivity_timeout=settings.access_key_inactivity,
                last_used=ctx.now,
                revoked=None,
            )
        )
        ctx.audit("login.ok", identity.name, access_key=key_id)
    LOGINS.labels("ok").inc()
    return LoginResponse(access_key=full, identity=identity.name, expires=expires)


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
        if body.revoke_other_keys and ctx.key is not None:  # The key in hand stays.
            revoked = lineage.revoke_identity(ctx.session, me.id, ctx.now, keep=ctx.key.id)
        ctx.audit("identity.password_changed", me.name, revoked_access_keys=revoked)


def logout(ctx: Context) -> None:
    """Revoke the access key this request was made with."""
    key = ctx.key
    if key is None:
        raise Unauthorized()
    derived = [k for k in lineage.revoke(ctx.session, [key.id], ctx.now) if k != key.id]
    ctx.audit("logout", ctx.actor, access_key=key.id, derived_access_keys=derived)


def whoami(ctx: Context) -> WhoAmI:
    me = ctx.me()
    return WhoAmI(
        id=me.id,
        name=me.name,
        kind=me.kind,
        groups=ctx.groups,
        access_key=ctx.key.id if ctx.key else "",
        roles=sorted(ctx.roles),
    )


# Built once: statement construction is a measurable part of a token request.
_DESTINATION = select(
    Destination.id, Destination.name, Destination.lifetime, Destination.group_narrowing
).where(Destination.name == bindparam("name"))
_HAS_GRANT = (
    select(Grant.id)
    .where(Grant.destination_id == bindparam("destination"), access.held_by(bindparam("me")))
    .limit(1)
)
_GRANTED_GROUPS = select(Group.name).join(Grant, Grant.group_id == Group.id)


def _decide(ctx: Context, me: Identity, name: str) -> TokenDecision:
    """Whether ``me`` may have tokens for destination ``name``: 404, 403, or how."""
    destination = ctx.session.execute(_DESTINATION, {"name": name}).first()
    if destination is None:
        raise NotFound(f"no destination named {name!r}")
    found = ctx.session.execute(_HAS_GRANT, {"destination": destination.id, "me": me.id})
    if found.first() is None:
        raise Forbidden(f"{me.name} has no grant on {destination.name!r}; ask an admin for one")
    groups = ctx.groups
    if destination.group_narrowing == "grants":
        mentioned = granted_groups(ctx.session, destination.id)
        groups = [g for g in groups if g in mentioned]
    return TokenDecision(destination.name, destination.lifetime, tuple(groups))


def granted_groups(session: Session, destination_id: str) -> set[str]:
    """The groups that some grant on the destination names (what narrowing keeps)."""
    return set(session.scalars(_GRANTED_GROUPS.where(Grant.destination_id == destination_id)))


def token_for(ctx: Context, me: Identity, destination: str) -> tuple[str, dict[str, Any]]:
    """A token for ``me`` (with ``ctx.groups``) on ``destination``, its grant checked now and
    the issue audited: what every other front end (the OpenID token endpoint) calls."""
    decision = _decide(ctx, me, destination)
    token, claims = _sign(ctx.authority, me.id, me.name, decision, ctx.now)
    ctx.audit("token.issued", decision.destination, jti=claims["jti"], sub=me.id)
    count_token(decision.destination)
    return token, claims


def issue_token(ctx: Context, body: TokenRequest) -> TokenResponse:
    """A token for one destination, only for identities that hold a grant there."""
    me = ctx.me()
    ctx.keeps_auth_cache = True
    revalidate(ctx)  # Clears keeps_auth_cache when it revokes keys or changes groups.
    cache = ctx.authority.decisions
    cache_key = _decision_key(me.id, body.destination, ctx.groups)
    decision = cache.get(cache_key)
    if decision is None:
        generation = cache.generation
        decision = _decide(ctx, me, body.destination)
        cache.put(cache_key, decision, generation)
    token, claims = _sign(ctx.authority, me.id, me.name, decision, ctx.now)
    ctx.audit("token.issued", decision.destination, jti=claims["jti"], sub=me.id)
    count_token(decision.destination)
    return TokenResponse(token=token, expires=to_datetime(claims["exp"]))


async def issue_cached(
    authority: Authority, principal: Principal, client: str | None, body: TokenRequest
) -> TokenResponse | None:
    """:func:`issue_token` without a request transaction, or ``None`` when that needs one.

    When the key check and the decision are cached, the key needs no provider revalidation
    and the signing key is loaded, nothing is read: the only write is the audit row, which
    joins the group commit of concurrent token requests (the token is handed out only after
    that commit, as from :func:`issue_token`).
    """
    now = to_datetime(authority.clock())
    if not still_valid(principal, now) or not is_plain(principal.origin_id):
        return None
    key = _decision_key(principal.identity_id, body.destination, principal.groups)
    decision = authority.decisions.get(key)
    signer = authority.keyring.cached_signer()
    if decision is None or signer is None:
        return None
    token, claims = _sign(authority, principal.identity_id, principal.name, decision, now, signer)
    detail = {"jti": claims["jti"], "sub": principal.identity_id}
    await authority.audit_log.write(
        audit.row(
            now,
            "token.issued",
            actor=principal.name,
            target=decision.destination,
            client=client,
            detail=detail,
        )
    )
    count_token(decision.destination)
    return TokenResponse(token=token, expires=to_datetime(claims["exp"]))


def _decision_key(identity_id: str, destination: str, groups: Sequence[str]) -> str:
    return "\0".join((identity_id, destination, *groups))


def _sign(
    authority: Authority,
    subject: str,
    name: str,
    decision: TokenDecision,
    now: datetime,
    key: Key | None = None,
) -> tuple[str, dict[str, Any]]:
    """The token of the profile in DESIGN.md, and its claims."""
    settings = authority.settings
    iat = int(now.timestamp())
    claims = {
        "iss": settings.issuer_url,
        "sub": subject,
        "aud": decision.destination,
        "name": name,
        "groups": list(decision.groups),
        "iat": iat,
        "nbf": iat - settings.clock_skew,
        "exp": iat + decision.lifetime,
        "nonce": secrets.token_urlsafe(16),
        "jti": str(uuid.uuid4()),
    }
    return signing.sign(claims, key or authority.keyring.signer()), claims
