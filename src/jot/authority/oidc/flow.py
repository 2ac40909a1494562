"""The authorization-code flow, as the relying party runs it.

:func:`start` records a login attempt (``state``, ``nonce``, PKCE verifier, a browser-binding
secret kept in a cookie) and answers with the provider's authorization URL. :func:`finish`
takes the callback: it consumes the attempt first (a replay finds it used), then talks to the
provider *outside* any database transaction, verifies everything, and only then writes the
user, groups, access key and session in one transaction. A refusal writes the audit record
and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from jot.authority import audit
from jot.authority.clock import to_datetime
from jot.authority.oidc import accounts, client, discovery, idtoken
from jot.authority.oidc.errors import LoginRefused
from jot.authority.oidc.http import client as http_client
from jot.authority.oidc.models import DeviceRequest, LoginAttempt, Provider
from jot.authority.oidc.providers import callback_url, client_secret
from jot.authority.oidc.sealed import device_where, login_where, seal, session_where
from jot.authority.state import Authority

__all__ = [
    "ATTEMPT_TTL",
    "Finished",
    "Started",
    "finish",
    "record",
    "record_refusal",
    "s256",
    "sha256",
    "start",
]

#: How long a person has to complete the provider's login page.
ATTEMPT_TTL = timedelta(minutes=10)
#: How long the CLI has to collect its result from the loopback redirect.
HANDOFF_TTL = timedelta(minutes=2)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Started:
    url: str
    #: Goes into the ``jot_oidc`` cookie; the callback must come back with it.
    browser_secret: str


@dataclass(frozen=True)
class Finished:
    mode: str
    identity: str
    groups: list[str]
    #: The access key, for the browser mode's page and the web console's session only.
    access_key: str | None
    #: Where to send the browser next (the CLI's loopback), if anywhere.
    redirect: str | None
    identity_id: str = ""
    key_id: str = ""


def _now(authority: Authority) -> datetime:
    return to_datetime(authority.clock())


def _provider(authority: Authority, name: str) -> Provider:
    with authority.db.transaction(write=False) as session:
        row = session.scalars(select(Provider).where(Provider.name == name)).first()
    if row is None:
        raise LoginRefused(
            "unknown_provider", f"there is no login provider named {name!r}", status=404
        )
    return row


def record(
    authority: Authority, kind: str, target: str | None, client_addr: str | None, **detail: Any
) -> None:
    """One audit record in its own transaction (for steps that write nothing else)."""
    with authority.db.transaction(write=True) as session:
        audit.record(
            session,
            _now(authority),
            kind,
            actor=None,
            target=target,
            client=client_addr,
            detail=detail,
        )


def record_refusal(
    authority: Authority, kind: str, target: str | None, client_addr: str | None, **detail: Any
) -> None:
    """:func:`record` for a refusal that anonymous traffic can repeat at will: repeats within
    a minute are folded into the next row (:class:`jot.authority.audit.Refusals`)."""
    folded = authority.refusals.fold(authority.clock(), kind, target, client_addr, detail)
    if folded is not None:
        record(authority, kind, target, client_addr, **folded)


def start(
    authority: Authority,
    provider_name: str,
    *,
    mode: str,
    client_addr: str | None,
    cli_redirect: str | None = None,
    cli_challenge: str | None = None,
    device_id: str | None = None,
) -> Started:
    provider = _provider(authority, provider_name)
    try:
        with http_client() as http:
            meta = discovery.metadata(http, provider.issuer)
    except LoginRefused as exc:
        record(
            authority,
            "oidc.login.failed",
            provider.name,
            client_addr,
            reason=exc.reason,
            message=exc.message,
        )
        raise
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    browser = secrets.token_urlsafe(32)
    now = _now(authority)
    with authority.db.transaction(write=True) as session:
        # Abandoned attempts are swept here, so the table stays small without a janitor.
        session.execute(delete(LoginAttempt).where(LoginAttempt.expires < now - ATTEMPT_TTL))
        session.add(
            LoginAttempt(
                state_hash=sha256(state),
                provider_id=provider.id,
                nonce=nonce,
                code_verifier=verifier,
                browser_hash=sha256(browser),
                mode=mode,
                cli_redirect=cli_redirect,
                cli_challenge=cli_challenge,
                device_id=device_id,
                handoff_hash=None,
                result_enc=None,
                created=now,
                expires=now + ATTEMPT_TTL,
                finished=None,
            )
        )
        audit.record(
            session,
            now,
            "oidc.login.started",
            actor=None,
            target=provider.name,
            client=client_addr,
            detail={"mode": mode},
        )
    query = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": callback_url(authority, provider.name),
        "scope": " ".join(_scopes(provider)),
        "state": state,
        "nonce": nonce,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    if "offline_access" in query["scope"].split():
        # OIDC Core §11: a refresh token for offline use needs an explicit consent prompt.
        query["prompt"] = "consent"
    separator = "&" if "?" in meta.authorization_endpoint else "?"
    return Started(f"{meta.authorization_endpoint}{separator}{urlencode(query)}", browser)


def _scopes(provider: Provider) -> list[str]:
    scopes: list[str] = json.loads(provider.scopes)
    return scopes


def _take_attempt(
    authority: Authority, provider: Provider, state: str | None, browser: str | None
) -> LoginAttempt:
    """Consume the attempt named by ``state``; every way it can be wrong is ``bad_state``."""
    if not state:
        raise LoginRefused("bad_state", "the provider's answer has no state; start the login again")
    now = _now(authority)
    problem: str | None = None
    with authority.db.transaction(write=True) as session:
        attempt = session.get(LoginAttempt, sha256(state))
        if attempt is None or attempt.provider_id != provider.id:
            raise LoginRefused("bad_state", "this login is unknown (wrong state); start it again")
        if attempt.finished is not None:
            raise LoginRefused("bad_state", "this login was already used; start it again")
        # Marked used and committed before anything else, so it can never be used twice.
        attempt.finished = now
        if attempt.expires <= now:
            problem = "this login took too long; start it again"
        elif not browser or not hmac.compare_digest(sha256(browser), attempt.browser_hash):
            problem = "this login was started in another browser; start it again"
    if problem is not None:
        raise LoginRefused("bad_state", problem)
    return attempt


def _claims(
    authority: Authority, provider: Provider, attempt: LoginAttempt, code: str
) -> tuple[dict[str, Any], str | None]:
    """Exchange the code, verify the ID token, add userinfo when a needed claim is missing."""
    creds = client.Credentials(provider.client_id, client_secret(authority, provider))
    with http_client() as http:
        meta = discovery.metadata(http, provider.issuer)
        answer = client.exchange_code(
            http,
            meta,
            creds,
            code=code,
            redirect_uri=callback_url(authority, provider.name),
            verifier=attempt.code_verifier,
        )
        claims = verify(
            http, meta, provider, str(answer.id_token), attempt.nonce, authority.clock()
        )
        if provider.email_claim not in claims or provider.groups_claim not in claims:
            info = client.userinfo(http, meta, answer.access_token, str(claims["sub"]))
            claims = {**info, **claims}
    return claims, answer.refresh_token


def verify(
    http: httpx.Client,
    meta: discovery.Metadata,
    provider: Provider,
    token: str,
    nonce: str | None,
    now: float,
) -> dict[str, Any]:
    return idtoken.verify_id_token(
        token,
        keys=lambda unknown: discovery.jwks(http, meta, unknown_kid=unknown),
        algorithms=meta.algorithms,
        issuer=provider.issuer,
        client_id=provider.client_id,
        nonce=nonce,
        now=now,
    )


def finish(
    authority: Authority,
    provider_name: str,
    params: dict[str, str],
    browser: str | None,
    client_addr: str | None,
) -> Finished:
    """Handle the provider's redirect back; :class:`LoginRefused` (audited) if anything is off."""
    provider = _provider(authority, provider_name)
    attempt: LoginAttempt | None = None
    try:
        denied = LoginRefused(
            "provider_denied", f"the provider refused the login ({params.get('error', '')[:100]})"
        )
        if "error" in params and not params.get("state"):
            raise denied  # Some providers drop the state from error answers.
        attempt = _take_attempt(authority, provider, params.get("state"), browser)
        if "error" in params:
            raise denied
        if not params.get("code"):
            raise LoginRefused("no_code", "the provider's answer has no authorization code")
        claims, refresh_token = _claims(authority, provider, attempt, params["code"])
        return _complete(authority, provider, attempt, claims, refresh_token, client_addr)
    except LoginRefused as refusal:
        _failed(authority, provider, attempt, refusal, client_addr)
        raise


def _failed(
    authority: Authority,
    provider: Provider,
    attempt: LoginAttempt | None,
    refusal: LoginRefused,
    client_addr: str | None,
) -> None:
    detail = {"reason": refusal.reason, "message": refusal.message}
    if attempt is None:
        # No login of ours was behind this request (anyone can send it): fold repeats.
        record_refusal(authority, "oidc.login.failed", provider.name, client_addr, **detail)
        return
    now = _now(authority)
    with authority.db.transaction(write=True) as session:
        if attempt.device_id is not None:
            device = session.get(DeviceRequest, attempt.device_id)
            if device is not None and device.status == "pending":
                device.status, device.reason = "denied", refusal.public_message[:300]
        audit.record(
            session,
            now,
            "oidc.login.failed",
            actor=None,
            target=provider.name,
            client=client_addr,
            detail=detail,
        )
    if attempt.mode == "cli" and attempt.cli_redirect:
        query = urlencode({"error": refusal.reason, "error_description": refusal.public_message})
        refusal.redirect = f"{attempt.cli_redirect}?{query}"


def _complete(
    authority: Authority,
    provider: Provider,
    attempt: LoginAttempt,
    claims: dict[str, Any],
    refresh_token: str | None,
    client_addr: str | None,
) -> Finished:
    account = accounts.account_from_claims(provider, claims)
    now = _now(authority)
    handoff = secrets.token_urlsafe(32) if attempt.mode == "cli" else None
    with authority.db.transaction(write=True) as session:
        provider_row = session.get(Provider, provider.id)
        if provider_row is None:
            raise LoginRefused("unknown_provider", "the provider was removed during this login")
        identity, how = accounts.resolve(session, provider_row, account, now)
        added, removed = accounts.sync_groups(
            session, provider_row, identity.id, account.groups, now
        )
        issued = accounts.issue_key(
            session,
            authority.settings,
            provider_row,
            identity,
            account.subject,
            lambda key_id: (
                seal(authority, refresh_token, where=session_where(key_id))
                if refresh_token
                else None
            ),
            now,
        )
        _deliver(authority, session, attempt, issued.access_key, handoff)
        audit.record(
            session,
            now,
            "oidc.login.ok",
            actor=identity.name,
            target=provider.name,
            client=client_addr,
            detail={
                "mode": attempt.mode,
                "identity": how,
                "access_key": issued.key_id,
                "groups_added": added,
                "groups_removed": removed,
                "groups_ignored": list(account.ignored_groups),
            },
        )
        name = identity.name
    redirect = f"{attempt.cli_redirect}?{urlencode({'code': handoff})}" if handoff else None
    # "web": the web console's sign-in, which starts a browser session with the key.
    shown = issued.access_key if attempt.mode in ("browser", "web") else None
    return Finished(
        attempt.mode, name, sorted(account.groups), shown, redirect, identity.id, issued.key_id
    )


def _deliver(
    authority: Authority, session: Session, attempt: LoginAttempt, key: str, handoff: str | None
) -> None:
    """Park the access key, sealed, where the CLI (loopback or device poll) will collect it."""
    if attempt.mode == "cli" and handoff is not None:
        row = session.get(LoginAttempt, attempt.state_hash)
        if row is None:  # Swept only long after it expired; a race at worst.
            raise LoginRefused("bad_state", "this login expired; start it again")
        row.handoff_hash = sha256(handoff)
        row.result_enc = seal(authority, key, where=login_where(attempt.state_hash))
    elif attempt.mode == "device" and attempt.device_id is not None:
        device = session.get(DeviceRequest, attempt.device_id)
        if device is None or device.status != "pending":
            raise LoginRefused(
                "device_gone", "this device login is no longer waiting; start it again"
            )
        device.status = "approved"
        device.result_enc = seal(authority, key, where=device_where(device.id))
