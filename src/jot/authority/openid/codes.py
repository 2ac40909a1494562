"""One-time authorization codes (RFC 6749 §4.1.2, RFC 7636) and the refresh handles made from
them.

A code is bound to its client, its redirect URI, its PKCE challenge and the browser session
that signed in. :func:`take` marks it used in its own committed transaction before anything
is checked or issued, so that two concurrent redemptions cannot both succeed; a second
redemption revokes what the first one produced (RFC 6749 §4.1.2: the code may have leaked).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from jot.authority.oidc.flow import s256
from jot.authority.oidc.flow import sha256 as digest
from jot.authority.openid.errors import OAuthError
from jot.authority.openid.models import AuthorizationCode, RefreshHandle

__all__ = [
    "CODE_TTL",
    "REFRESH_TTL",
    "Grant",
    "digest",
    "issue",
    "new_refresh",
    "s256",
    "take",
]

#: How long a code may wait for its redemption (OAuth 2.0 Security BCP: short; 60 s).
CODE_TTL = timedelta(seconds=60)
#: The longest a refresh handle lives; it never outlives the browser session it came from.
REFRESH_TTL = timedelta(hours=12)


@dataclass(frozen=True)
class Grant:
    """What a code or a refresh handle allows: who, for which client, since when."""

    destination_id: str
    identity_id: str
    session_id: str | None
    scope: str
    auth_time: datetime
    nonce: str | None
    #: The code (its hash) behind it, which a replay revokes.
    code_hash: str
    #: When whatever is made from it must end (the browser session's end, at the latest).
    ends: datetime


def issue(
    session: Session,
    *,
    destination_id: str,
    identity_id: str,
    session_id: str | None,
    redirect_uri: str,
    challenge: str | None,
    nonce: str | None,
    scope: str,
    auth_time: datetime,
    now: datetime,
) -> str:
    """A new code; expired codes are swept here, so the table stays small without a janitor."""
    session.execute(delete(AuthorizationCode).where(AuthorizationCode.expires < now - CODE_TTL))
    code = secrets.token_urlsafe(32)
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            destination_id=destination_id,
            identity_id=identity_id,
            session_id=session_id,
            redirect_uri=redirect_uri,
            challenge=challenge,
            nonce=nonce,
            scope=scope,
            auth_time=auth_time,
            expires=now + CODE_TTL,
            used=None,
        )
    )
    return code


def take(
    session: Session,
    code: str,
    *,
    destination_id: str,
    redirect_uri: str | None,
    verifier: str | None,
    now: datetime,
) -> AuthorizationCode:
    """Consume ``code`` (the caller commits even when this raises) and check its bindings.

    :raises OAuthError: ``invalid_grant`` for every way the code can be wrong.
    """
    row = session.get(AuthorizationCode, digest(code), with_for_update=True)
    if row is None:
        raise OAuthError("invalid_grant", "unknown authorization code", reason="unknown_code")
    if row.used is not None:
        # RFC 6749 §4.1.2: a code used twice may have been stolen; what it made ends now.
        session.execute(
            update(RefreshHandle)
            .where(RefreshHandle.code_hash == row.code_hash, RefreshHandle.revoked.is_(None))
            .values(revoked=now)
        )
        raise OAuthError("invalid_grant", "this code was already used", reason="code_replayed")
    row.used = now
    if row.expires <= now:
        raise OAuthError("invalid_grant", "this code has expired", reason="code_expired")
    if row.destination_id != destination_id:
        raise OAuthError("invalid_grant", "this code is for another client", reason="wrong_client")
    if redirect_uri != row.redirect_uri:
        # RFC 6749 §4.1.3: the exact redirect_uri of the authorization request, if it had one
        # (it always has one here: it is required there).
        raise OAuthError(
            "invalid_grant", "redirect_uri does not match the authorization request",
            reason="redirect_mismatch",
        )  # fmt: skip
    _check_pkce(row.challenge, verifier)
    return row


def _check_pkce(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier is not None:
            # RFC 9700 §4.8.2: a verifier without a challenge is a downgrade attempt.
            raise OAuthError(
                "invalid_grant", "code_verifier without a code_challenge", reason="pkce"
            )
        return
    if verifier is None:
        raise OAuthError("invalid_grant", "code_verifier is required", reason="pkce_missing")
    if not (43 <= len(verifier) <= 128) or not hmac.compare_digest(s256(verifier), challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match", reason="pkce_mismatch")


def new_refresh(session: Session, grant: Grant, now: datetime) -> str:
    """A refresh handle for ``grant``, ending with its browser session (or ``REFRESH_TTL``)."""
    handle = secrets.token_urlsafe(32)
    session.add(
        RefreshHandle(
            handle_hash=digest(handle),
            destination_id=grant.destination_id,
            identity_id=grant.identity_id,
            session_id=grant.session_id,
            code_hash=grant.code_hash,
            scope=grant.scope,
            auth_time=grant.auth_time,
            created=now,
            expires=min(now + REFRESH_TTL, grant.ends),
            revoked=None,
        )
    )
    return handle
