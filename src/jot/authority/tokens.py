"""Token issuance, in one place: who may have a token for which destination, and the token.

:mod:`jot.authority.fastpath` serves ``POST /api/tokens`` in three steps, each taken only when
the one before cannot answer:

1. :func:`issue_cached`, on the event loop: the key check and the decision are cached (they
   live 1 s), nothing is read;
2. :func:`check_token` in a read transaction (it fills the caches), then :func:`issue_checked`
   on the event loop;
3. :func:`issue_token`, the route's handler, in a writing transaction: for keys whose provider
   login must be revalidated first.

Steps 1 and 2 write only the audit row, through the group commit of concurrent token
requests (:class:`jot.authority.audit.GroupCommit`): the token is answered after that commit,
as from step 3. Whatever the step, the decision is :func:`decide` and the claims are
:func:`jot.api.claims.build_claims`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from jot.api import TokenRequest, TokenResponse
from jot.api.claims import MAX_TOKEN_BYTES, build_claims
from jot.api.roles import decide as decide_roles
from jot.api.roles import granting_groups
from jot.authority import access, audit, grants_store, revocations, signing
from jot.authority.authcache import Caller, GroupGrants, Principal, TokenDecision
from jot.authority.clock import to_datetime
from jot.authority.context import TOUCH, Context, reads_first, still_valid, touch_values
from jot.authority.errors import APIError, Forbidden, NotFound
from jot.authority.middleware import count_token
from jot.authority.models import TOKEN_ISSUED, Destination
from jot.authority.oidc.revalidate import is_plain, revalidate, without_provider
from jot.authority.prepared import Prepared, Reads
from jot.authority.state import Authority
from jot.jose import Key

__all__ = [
    "Checked",
    "TokenTooLarge",
    "check_token",
    "decide",
    "granting",
    "issue_cached",
    "issue_checked",
    "issue_for",
    "issue_token",
]

# Built once: statement construction is a measurable part of a token request.
_DESTINATION = Prepared(
    select(
        Destination.name,
        Destination.lifetime,
        Destination.group_narrowing,
        Destination.encryption_key,
        grants_store.CURRENT,
    ).where(Destination.name == bindparam("name"))
)


class TokenTooLarge(APIError):
    """The token would be longer than destinations accept (:data:`MAX_TOKEN_BYTES`): refused
    here, with what to do, rather than handed out to be refused at the destination."""

    status, error = 422, "token_too_large"

    def __init__(self, me: Caller, decision: TokenDecision, size: int) -> None:
        where = decision.destination
        if decision.narrowed:
            fix = f"fewer of {me.name}'s groups could hold grants on {where!r}"
        else:
            fix = (
                f"an admin can narrow its groups to those with grants there "
                f"(jot destinations update {where} --groups grants)"
            )
        super().__init__(
            f"a token for {where!r} would be {size:,} bytes, over the {MAX_TOKEN_BYTES:,} "
            f"that destinations accept: it names {len(decision.groups)} groups; {fix}"
        )


def decide(
    session: Reads,
    caller: Caller,
    groups: Sequence[str],
    name: str,
    *,
    now: float | None = None,
    shared: GroupGrants | None = None,
) -> TokenDecision:
    """Whether ``caller`` (in ``groups``) may have tokens for destination ``name`` at ``now``
    (default: the system clock): 404, 403, or with which lifetime and groups. ``shared``:
    small destinations' group grants (the authority's)."""
    return _decide(session, caller, groups, name, now, shared)[0]


def _decide(
    session: Reads,
    caller: Caller,
    groups: Sequence[str],
    name: str,
    now: float | None = None,
    shared: GroupGrants | None = None,
) -> tuple[TokenDecision, tuple[str, ...]]:
    """:func:`decide`, and the groups that hold a grant there (narrowed or not)."""
    destination = _DESTINATION.first(session, {"name": name})
    if destination is None:
        raise NotFound(f"no destination named {name!r}")
    name, lifetime, narrowing, sealed, revision = destination
    member = frozenset(groups)
    grants = access.held_grants(
        session,
        caller.id,
        caller.name,
        name,
        groups=member,
        shared=None if shared is None else (shared, revision),
    )
    now = time.time() if now is None else now
    denied = revocations.of_subject(session, caller.id, to_datetime(now))
    # The one decision (jot.api.roles.decide), as every destination makes it.
    verdict = decide_roles(
        caller.name, member, name, grants, subject=caller.id, denied=denied, now=now
    )
    if verdict.revoked:
        until = to_datetime(denied[("subject", caller.id)]).isoformat()
        raise Forbidden(f"{caller.name} is revoked until {until}; ask an admin")
    if not verdict.token:
        raise Forbidden(f"{caller.name} has no grant on {name!r}; ask an admin for one")
    granting = granting_groups(groups, name, grants, now=now)
    narrowed = narrowing == "grants"
    kept = granting if narrowed else tuple(groups)
    seal = signing.sealing_key(sealed) if sealed is not None else None
    decision = TokenDecision(name, lifetime, kept, seal, verdict.until, narrowed=narrowed)
    return decision, granting


def granting(
    session: Session,
    caller: Caller,
    groups: Sequence[str],
    name: str,
    *,
    now: float | None = None,
) -> tuple[str, ...]:
    """The ``groups`` that hold a grant on destination ``name`` (what an ID token and the
    userinfo answer carry); 404 or 403 as :func:`decide`."""
    return _decide(session, caller, groups, name, now)[1]


def issue_for(
    ctx: Context, caller: Caller, groups: Sequence[str], name: str
) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """A token for ``caller`` on destination ``name``, its grant checked now (no cache) and
    the issue audited: what the OpenID token endpoint hands out at every code and refresh.
    Also the groups that hold a grant there, which an ID token carries."""
    decision, granting = _decide(ctx.session, caller, groups, name, ctx.now.timestamp())
    token, claims = _sign(ctx.authority, caller, decision, ctx.now, ctx.authority.keyring.signer())
    ctx.audit(TOKEN_ISSUED, decision.destination, jti=claims["jti"], sub=caller.id)
    count_token(decision.destination)
    return token, claims, granting


@dataclass(frozen=True)
class Checked:
    """What :func:`check_token` found: who may have which token, and the key to sign it."""

    caller: Caller
    decision: TokenDecision
    key: Key
    #: The values of the key's ``last_used`` write when it is due: committed with the audit
    #: row.
    touch: dict[str, Any] | None = None


@reads_first
def check_token(ctx: Context, body: TokenRequest) -> Checked | None:
    """The checks of :func:`issue_token` without writing (read transaction), or ``None`` when
    the key's provider login may need revalidating (which writes)."""
    me = ctx.me()
    ctx.keeps_auth_cache = True  # Nothing here changes what a key check reads.
    if not without_provider(ctx):
        return None
    decision, key = _decision(ctx, me, body.destination), ctx.authority.keyring.signer()
    touch, ctx.touch_due = ctx.touch_due, None  # Taken over: see issue_checked.
    return Checked(me, decision, key, touch_values(touch, ctx.now) if touch else None)


def issue_token(ctx: Context, body: TokenRequest) -> TokenResponse:
    """A token for one destination, only for identities that hold a grant there."""
    me = ctx.me()
    ctx.keeps_auth_cache = True
    revalidate(ctx)  # Clears keeps_auth_cache when it revokes keys or changes groups.
    decision = _decision(ctx, me, body.destination)
    token, claims = _sign(ctx.authority, me, decision, ctx.now, ctx.authority.keyring.signer())
    ctx.audit(TOKEN_ISSUED, decision.destination, jti=claims["jti"], sub=me.id)
    count_token(decision.destination)
    return TokenResponse(token=token, expires=to_datetime(claims["exp"]))


def _decision(ctx: Context, me: Caller, destination: str) -> TokenDecision:
    """:func:`decide`, through the decision cache (which it fills)."""
    cache = ctx.authority.decisions
    cache_key = _decision_key(me.id, destination, ctx.groups)
    decision = cache.get(cache_key)
    now = ctx.now.timestamp()
    if decision is None or not _holds(decision, now):
        generation = cache.generation
        shared = ctx.authority.group_grants
        decision = decide(ctx.reads, me, ctx.groups, destination, now=now, shared=shared)
        cache.put(cache_key, decision, generation)
    return decision


def _holds(decision: TokenDecision, now: float) -> bool:
    """A cached decision holds until a time-bound grant behind it lapses."""
    return decision.until is None or now < decision.until


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
    if decision is None or signer is None or not _holds(decision, now.timestamp()):
        return None
    return await issue_checked(authority, Checked(me, decision, signer), client)


async def issue_checked(
    authority: Authority, checked: Checked, client: str | None
) -> TokenResponse:
    """The token that :func:`check_token` (or the caches) allowed, audited through the group
    commit: answered only once the audit row is committed."""
    now = to_datetime(authority.clock())
    me, decision = checked.caller, checked.decision
    token, claims = _sign(authority, me, decision, now, checked.key)
    detail = {"jti": claims["jti"], "sub": me.id}
    row = audit.row(
        now,
        TOKEN_ISSUED,
        actor=me.name,
        target=decision.destination,
        client=client,
        detail=detail,
    )
    touch = None if checked.touch is None else (TOUCH, checked.touch)
    await authority.audit_log.write(row, also=touch)
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
    token = signing.sign(claims, key, decision.encrypt_to)
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenTooLarge(me, decision, len(token))
    return token, claims
