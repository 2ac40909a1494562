"""Session revalidation: before a token is issued on an access key that came from a provider
login older than the provider's ``revalidate_after`` — or on a key derived from such a key
(its line's ``origin_id``) — the refresh token is used. If the provider refuses (the user was
removed or disabled), every access key of that user from that provider, and every key made
from them, is revoked and the token is refused; if the provider is unreachable, the token is
refused for now and nothing is revoked.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select

from jot.authority import access
from jot.authority.authcache import Caller
from jot.authority.context import CommitThenRaise, Context
from jot.authority.errors import APIError, Unauthorized
from jot.authority.oidc import accounts, client, discovery
from jot.authority.oidc.errors import LoginRefused
from jot.authority.oidc.flow import verify
from jot.authority.oidc.http import client as http_client
from jot.authority.oidc.models import Provider, ProviderSession
from jot.authority.oidc.providers import client_secret
from jot.authority.oidc.sealed import open_secret, seal, session_where
from jot.authority.prepared import Prepared

__all__ = ["ProviderDown", "is_plain", "revalidate", "without_provider"]


# Lines of access keys (by their origin key) known not to come from a provider login. A
# provider session is created in the same transaction as its access key, so a key without
# one now never gets one: remembering that keeps the token hot path at zero extra queries for
# password and machine keys.
_PLAIN_KEYS: set[str] = set()
_PLAIN_MAX = 100_000
# Whether a key has a provider login: asked once per key line (no ORM object for a no).
_PROVIDER_SESSION = Prepared(
    select(ProviderSession.access_key_id).where(ProviderSession.access_key_id == bindparam("key"))
)


def _remember_plain(key_id: str) -> None:
    if len(_PLAIN_KEYS) >= _PLAIN_MAX:
        _PLAIN_KEYS.clear()
    _PLAIN_KEYS.add(key_id)


def is_plain(origin_id: str) -> bool:
    """Whether the line that starts at ``origin_id`` is known not to come from a provider
    login (revalidation is then a no-op, without I/O)."""
    return origin_id in _PLAIN_KEYS


class ProviderDown(APIError):
    status, error = 503, "provider_unavailable"


def _refuse(ctx: Context, provider: Provider, identity: Caller, why: str) -> CommitThenRaise:
    revoked = accounts.revoke(ctx.session, provider.id, identity.id, ctx.now)
    ctx.keeps_auth_cache = False  # Cached key checks must not outlive the revocation.
    ctx.audit(
        "oidc.revoked", identity.name, provider=provider.name, reason=why, access_keys=revoked
    )
    return CommitThenRaise(
        Unauthorized(
            f"your login through {provider.name} is no longer valid ({why}); "
            f"run jot login --provider {provider.name} again"
        )
    )


def without_provider(ctx: Context) -> bool:
    """Whether the caller's key line started with no provider login, so that
    :func:`revalidate` has nothing to do (read only; remembered for the next requests)."""
    me = ctx.caller
    if me is None or me.origin_id is None or me.origin_id in _PLAIN_KEYS:
        return True
    if _PROVIDER_SESSION.first(ctx.reads, {"key": me.origin_id}) is None:
        _remember_plain(me.origin_id)
        return True
    return False


def revalidate(ctx: Context) -> None:
    """Called before a token is issued; a no-op for keys that did not come from a provider."""
    if without_provider(ctx):
        return
    me = ctx.me()
    row = ctx.session.get(ProviderSession, me.origin_id)
    if row is None:
        return
    provider = ctx.session.get(Provider, row.provider_id)
    if provider is None or ctx.now - row.last_check < timedelta(seconds=provider.revalidate_after):
        return
    if row.refresh_enc is None:
        raise _refuse(ctx, provider, me, "the provider gave no refresh token to renew it")
    token = open_secret(ctx.authority, row.refresh_enc, where=session_where(row.access_key_id))
    creds = client.Credentials(provider.client_id, client_secret(ctx.authority, provider))
    try:
        with http_client() as http:
            meta = discovery.metadata(http, provider.issuer)
            answer = client.refresh(http, meta, creds, token)
            if isinstance(answer, client.Refused):
                raise _refuse(ctx, provider, me, f"the provider refused: {answer.error}")
            # Groups are re-read at every revalidation: from the new ID token when the
            # provider sends one, else from userinfo (whose sub must be this session's).
            claims: dict[str, Any] | None = (
                verify(http, meta, provider, answer.id_token, None, ctx.authority.clock())
                if answer.id_token
                else client.userinfo(http, meta, answer.access_token, row.subject) or None
            )
    except LoginRefused as exc:
        ctx.audit("oidc.revalidation.failed", me.name, provider=provider.name, reason=exc.reason)
        raise CommitThenRaise(
            ProviderDown(
                f"cannot check your login with {provider.name} right now ({exc.message}); try again"
            )
        ) from None
    _renewed(ctx, provider, row, answer, claims)


def _renewed(
    ctx: Context,
    provider: Provider,
    row: ProviderSession,
    answer: client.TokenAnswer,
    claims: dict[str, Any] | None,
) -> None:
    identity = ctx.me()
    if claims is not None and claims.get("sub") != row.subject:
        raise _refuse(ctx, provider, identity, "the provider answered for another user")
    if answer.refresh_token:
        row.refresh_enc = seal(
            ctx.authority, answer.refresh_token, where=session_where(row.access_key_id)
        )
    row.last_check = ctx.now
    detail: dict[str, object] = {"provider": provider.name}
    if claims is not None and provider.groups_claim in claims:
        groups = accounts.account_from_claims(
            provider, {**claims, provider.email_claim: identity.name}
        ).groups
        added, removed = accounts.sync_groups(ctx.session, provider, identity.id, groups, ctx.now)
        detail.update(groups_added=added, groups_removed=removed)
        if added or removed:
            ctx.keeps_auth_cache = False  # Cached key checks carry the old groups.
            ctx.groups = access.group_names(ctx.session, identity.id)
    ctx.audit("oidc.revalidated", identity.name, **detail)
