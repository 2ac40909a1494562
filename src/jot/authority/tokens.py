"""Token issuance, in one place: who may have a token for which destination, and the token.

Two ways lead here. :func:`issue_token` is the route's handler, run in a request transaction
by :func:`jot.authority.context.run`; it fills the caches. :func:`issue_cached` is the same
answer from those caches (the key check and the decision live 1 s), without a transaction:
:mod:`jot.authority.fastpath` tries it first on the event loop. Both end in :func:`_issue`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from jot.api import TokenRequest, TokenResponse
from jot.api.claims import build_claims
from jot.api.roles import granting_groups, roles_within
from jot.authority import access, audit, signing
from jot.authority.authcache import Caller, Principal, TokenDecision
from jot.authority.clock import to_datetime
from jot.authority.context import Context, still_valid
from jot.authority.errors import Forbidden, NotFound
from jot.authority.middleware import count_token
from jot.authority.models import Destination, Grant
from jot.authority.oidc.revalidate import is_plain, revalidate
from jot.authority.state import Authority
from jot.jose import Key

__all__ = ["decide", "granting", "issue_cached", "issue_for", "issue_token"]

# Built once: statement construction is a measurable part of a token request.
_DESTINATION = select(
    Destination.id, Destination.name, Destination.lifetime, Destination.group_narrowing
).where(Destination.name == bindparam("name"))
_HELD_ON = access.held_query(Grant.destination_id == bindparam("destination"))


def decide(session: Session, caller: Caller, groups: Sequence[str], name: str) -> TokenDecision:
    """Whether ``caller`` (in ``groups``) may have tokens for destination ``name``: 404, 403,
    or with which lifetime and groups."""
    return _decide(session, caller, groups, name)[0]


def _decide(
    session: Session, caller: Caller, groups: Sequence[str], name: str
) -> tuple[TokenDecision, tuple[str, ...]]:
    """:func:`decide`, and the groups that hold a grant there (narrowed or not)."""
    destination = session.execute(_DESTINATION, {"name": name}).first()
    if destination is None:
        raise NotFound(f"no destination named {name!r}")
    grants = access.held_grants(
        session, _HELD_ON, caller.name, me=caller.id, destination=destination.id
    )
    if not roles_within(caller.name, groups, destination.name, grants):
        raise Forbidden(f"{caller.name} has no grant on {destination.name!r}; ask an admin for one")
    granting = granting_groups(groups, destination.name, grants)
    kept = granting if destination.group_narrowing == "grants" else tuple(groups)
    return TokenDecision(destination.name, destination.lifetime, kept), granting


def granting(session: Session, caller: Caller, groups: Sequence[str], name: str) -> tuple[str, ...]:
    """The ``groups`` that hold a grant on destination ``name`` (what an ID token and the
    userinfo answer carry); 404 or 403 as :func:`decide`."""
    return _decide(session, caller, groups, name)[1]


def issue_for(
    ctx: Context, caller: Caller, groups: Sequence[str], name: str
) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """A token for ``caller`` on destination ``name``, its grant checked now (no cache) and
    the issue audited: what the OpenID token endpoint hands out at every code and refresh.
    Also the groups that hold a grant there, which an ID token carries."""
    decision, granting = _decide(ctx.session, caller, groups, name)
    token, claims = _sign(ctx.authority, caller, decision, ctx.now, ctx.authority.keyring.signer())
    ctx.audit("token.issued", decision.destination, jti=claims["jti"], sub=caller.id)
    count_token(decision.destination)
    return token, claims, granting


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
        decision = decide(ctx.session, me, ctx.groups, body.destination)
        cache.put(cache_key, decision, generation)
    token, claims = _sign(ctx.authority, me, decision, ctx.now, ctx.authority.keyring.signer())
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
    me = principal.caller
    if not still_valid(principal, now) or me.origin_id is None or not is_plain(me.origin_id):
        return None
    decision = authority.decisions.get(_decision_key(me.id, body.destination, principal.groups))
    signer = authority.keyring.cached_signer()
    if decision is None or signer is None:
        return None
    token, claims = _sign(authority, me, decision, now, signer)
    detail = {"jti": claims["jti"], "sub": me.id}
    row = audit.row(
        now,
        "token.issued",
        actor=me.name,
        target=decision.destination,
        client=client,
        detail=detail,
    )
    await authority.audit_log.write(row)
    count_token(decision.destination)
    return TokenResponse(token=token, expires=to_datetime(claims["exp"]))


def _decision_key(identity_id: str, destination: str, groups: Sequence[str]) -> str:
    return "\0".join((identity_id, destination, *groups))


def _sign(
    authority: Authority, me: Caller, decision: TokenDecision, now: datetime, key: Key
) -> tuple[str, dict[str, Any]]:
    """The token of the profile in :mod:`jot.api.claims`, and its claims."""
    settings = authority.settings
    claims = build_claims(
        issuer=settings.issuer_url,
        subject=me.id,
        audience=decision.destination,
        name=me.name,
        groups=decision.groups,
        issued_at=int(now.timestamp()),
        lifetime=decision.lifetime,
        skew=settings.clock_skew,
    )
    return signing.sign(claims, key), claims
