"""What the token endpoint hands out for a grant: a jot access token for the client's
destination (through the same function as ``POST /api/tokens``, so the grant is checked
now), an ID token with the jot profile, and, for confidential clients, a refresh handle.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from jot.authority import access, signing, tokens
from jot.authority.authcache import Caller
from jot.authority.context import Context
from jot.authority.errors import Forbidden, NotFound
from jot.authority.models import Identity
from jot.authority.openid import clients
from jot.authority.openid.codes import Grant, new_refresh
from jot.authority.openid.errors import OAuthError

__all__ = ["ID_TOKEN_LIFETIME", "answer"]

#: The life of an ID token: five minutes, as a jot's.
ID_TOKEN_LIFETIME = 300
# OIDC Core §3.1.3.6: at_hash uses the hash of the ID token's alg. EdDSA has no agreed one,
# so its tokens carry no at_hash (it is optional in the code flow).
_AT_HASH = {"ES256": hashlib.sha256, "RS256": hashlib.sha256, "PS256": hashlib.sha256}


def _at_hash(alg: str | None, access_token: str) -> str | None:
    make = _AT_HASH.get(alg or "")
    if make is None:
        return None
    raw = make(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw[: len(raw) // 2]).rstrip(b"=").decode()


def answer(
    ctx: Context, client: clients.Client, grant: Grant, *, refresh: str | None
) -> dict[str, Any]:
    """The RFC 6749 §5.1 answer; ``refresh`` is the handle in use (kept), else a new one is
    made for a confidential client. The grant is checked again here, at every refresh."""
    identity = ctx.session.get(Identity, grant.identity_id)
    if identity is None:
        raise OAuthError("invalid_grant", "this identity no longer exists", reason="no_identity")
    ctx.caller = Caller(identity.id, identity.name, identity.kind)
    ctx.groups = access.group_names(ctx.session, identity.id)
    try:
        access_token, claims, granting = tokens.issue_for(
            ctx, ctx.caller, ctx.groups, client.client_id
        )
    except (Forbidden, NotFound) as exc:
        raise OAuthError("invalid_grant", exc.message, reason="no_grant") from None
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": claims["exp"] - claims["iat"],
        "scope": grant.scope,
    }
    if "openid" in grant.scope.split():
        body["id_token"] = _id_token(ctx, client, identity, grant, access_token, granting)
    if client.confidential:
        body["refresh_token"] = refresh or new_refresh(ctx.session, grant, ctx.now)
    return body


def _id_token(
    ctx: Context,
    client: clients.Client,
    identity: Identity,
    grant: Grant,
    access_token: str,
    groups: tuple[str, ...],
) -> str:
    """OIDC Core §2 plus the jot profile: name, and the groups the client's grants name."""
    key = ctx.authority.keyring.signer()
    iat = int(ctx.now.timestamp())
    claims: dict[str, Any] = {
        "iss": ctx.authority.settings.issuer_url,
        "sub": identity.id,
        "aud": client.client_id,
        "iat": iat,
        "exp": iat + ID_TOKEN_LIFETIME,
        "auth_time": _seconds(grant.auth_time),
        "name": identity.name,
        "preferred_username": identity.name,
        "groups": list(groups),
    }
    if grant.nonce is not None:
        claims["nonce"] = grant.nonce
    at_hash = _at_hash(key.alg, access_token)
    if at_hash is not None:
        claims["at_hash"] = at_hash
    return signing.sign_id_token(claims, key)


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())
