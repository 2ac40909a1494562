"""Logging in and out, whoami, and issuing tokens."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from sqlalchemy import bindparam, select, update

from jot.api import TokenRequest, TokenResponse
from jot.api.session import LoginRequest, LoginResponse, WhoAmI
from jot.authority import access, signing
from jot.authority.authcache import TokenDecision
from jot.authority.clock import to_datetime
from jot.authority.context import CommitThenRaise, Context, load_identity
from jot.authority.credentials import hash_secret, new_access_key, verify_password
from jot.authority.errors import Forbidden, NotFound, TooManyRequests, Unauthorized
from jot.authority.middleware import LOGINS, TOKENS
from jot.authority.models import AccessKey, Destination, Grant, Identity
from jot.authority.oidc.revalidate import revalidate

__all__ = ["issue_token", "login", "logout", "whoami"]


def login(ctx: Context, body: LoginRequest) -> LoginResponse:
    """Name and password → a new access key. Failures are limited, backed off and audited."""
    limiter, settings = ctx.authority.limiter, ctx.authority.settings
    keys = (f"name:{body.name.lower()}", f"login-addr:{ctx.client}")
    wait = max(limiter.retry_after(key) for key in keys)
    if wait > 0:
        ctx.audit("login.locked", body.name)
        LOGINS.labels("locked").inc()
        raise CommitThenRaise(TooManyRequests("too many failed logins; try again later", wait))
    identity = load_identity(ctx.session, body.name)
    password_hash = identity.password_hash if identity is not None else None
    if identity is None or not verify_password(body.password.get_secret_value(), password_hash):
        for key in keys:
            limiter.failure(key)
        ctx.audit("login.failed", body.name)
        LOGINS.labels("failed").inc()
        raise CommitThenRaise(Unauthorized("wrong name or password"))
    for key in keys:
        limiter.success(key)
    expires = ctx.now + timedelta(seconds=settings.access_key_lifetime)
    key_id, secret, full = new_access_key()
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
    ctx.identity = identity
    ctx.audit("login.ok", identity.name, access_key=key_id)
    LOGINS.labels("ok").inc()
    return LoginResponse(access_key=full, identity=identity.name, expires=expires)


def logout(ctx: Context) -> None:
    """Revoke the access key this request was made with."""
    key = ctx.key
    if key is None:
        raise Unauthorized()
    ctx.session.execute(update(AccessKey).where(AccessKey.id == key.id).values(revoked=ctx.now))
    ctx.audit("logout", ctx.actor, access_key=key.id)


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
    .where(
        Grant.destination_id == bindparam("destination"),
        Grant.subject.in_(bindparam("subjects", expanding=True)),
    )
    .limit(1)
)


def _decide(ctx: Context, me: Identity, name: str) -> TokenDecision:
    """Whether ``me`` may have tokens for destination ``name``: 404, 403, or how."""
    destination = ctx.session.execute(_DESTINATION, {"name": name}).first()
    if destination is None:
        raise NotFound(f"no destination named {name!r}")
    subjects = access.subjects_of(me, ctx.groups)
    found = ctx.session.execute(_HAS_GRANT, {"destination": destination.id, "subjects": subjects})
    if found.first() is None:
        raise Forbidden(f"{me.name} has no grant on {destination.name!r}; ask an admin for one")
    groups = ctx.groups
    if destination.group_narrowing == "grants":
        mentioned = {g.subject for g in access.grants_for(ctx.session, destination.id)}
        groups = [g for g in groups if f"group:{g}" in mentioned]
    return TokenDecision(destination.name, destination.lifetime, tuple(groups))


def issue_token(ctx: Context, body: TokenRequest) -> TokenResponse:
    """A token for one destination, only for identities that hold a grant there."""
    me = ctx.me()
    ctx.keeps_auth_cache = True
    revalidate(ctx)  # Clears keeps_auth_cache when it revokes keys or changes groups.
    cache = ctx.authority.decisions
    cache_key = "\0".join((me.id, body.destination, *ctx.groups))
    decision = cache.get(cache_key)
    if decision is None:
        generation = cache.generation
        decision = _decide(ctx, me, body.destination)
        cache.put(cache_key, decision, generation)
    settings = ctx.authority.settings
    iat = int(ctx.now.timestamp())
    exp = iat + decision.lifetime
    claims = {
        "iss": settings.issuer_url,
        "sub": me.id,
        "aud": decision.destination,
        "name": me.name,
        "groups": list(decision.groups),
        "iat": iat,
        "nbf": iat - settings.clock_skew,
        "exp": exp,
        "nonce": secrets.token_urlsafe(16),
        "jti": str(uuid.uuid4()),
    }
    token = signing.sign(claims, ctx.authority.keyring.signer())
    ctx.audit("token.issued", decision.destination, jti=claims["jti"], sub=me.id)
    TOKENS.labels(decision.destination).inc()
    return TokenResponse(token=token, expires=to_datetime(exp))
