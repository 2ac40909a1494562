"""Handing a finished login to jot's CLI: the loopback code exchange and the device flow.

Both park the access key sealed under the root key and hand it over exactly once. A loopback
code is bound to the CLI by PKCE (the CLI proves the verifier behind the challenge it sent); a
wrong verifier burns the code and revokes the parked key, so nothing usable is left behind.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from jot.api.providers import DeviceAuthorization, DeviceStart, LoginExchange
from jot.api.session import LoginResponse
from jot.authority.authcache import Caller
from jot.authority.context import CommitThenRaise, Context
from jot.authority.credentials import parse_access_key
from jot.authority.errors import BadRequest, NotFound, TooManyRequests
from jot.authority.models import AccessKey, Identity
from jot.authority.oidc.errors import LoginRefused
from jot.authority.oidc.flow import HANDOFF_TTL, s256, sha256
from jot.authority.oidc.models import DeviceRequest, LoginAttempt, Provider
from jot.authority.oidc.providers import load_provider
from jot.authority.oidc.sealed import device_where, login_where, open_secret
from jot.authority.state import Authority

__all__ = [
    "DEVICE_INTERVAL",
    "DEVICE_TTL",
    "DeviceAnswer",
    "exchange",
    "poll_device",
    "start_device",
]

#: RFC 8628 §3.2: the default polling interval is 5 seconds.
DEVICE_INTERVAL = 5
DEVICE_TTL = timedelta(minutes=10)
# RFC 8628 §6.1: no vowels (no words), no look-alike characters; 20^8 ≈ 2^34.5 codes.
_USER_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


def _response(ctx: Context, key: str) -> LoginResponse:
    row = ctx.session.get(AccessKey, _key_id(key))
    identity = ctx.session.get(Identity, row.identity_id) if row is not None else None
    if row is None or identity is None or row.revoked is not None:
        raise LoginRefused("gone", "this login was revoked before it was collected; log in again")
    ctx.caller = Caller(identity.id, identity.name, identity.kind)
    return LoginResponse(access_key=key, identity=identity.name, expires=row.expires)


def _key_id(key: str) -> str:
    parsed = parse_access_key(key)
    return parsed[0] if parsed else ""


def _revoke_parked(ctx: Context, key: str) -> None:
    ctx.session.execute(
        update(AccessKey)
        .where(AccessKey.id == _key_id(key), AccessKey.revoked.is_(None))
        .values(revoked=ctx.now)
    )


def exchange(ctx: Context, body: LoginExchange) -> LoginResponse:
    """The CLI's one-time code and PKCE verifier → the access key of the finished login."""
    stmt = select(LoginAttempt).where(LoginAttempt.handoff_hash == sha256(body.code))
    attempt = ctx.session.scalars(stmt).first()
    if attempt is None or attempt.result_enc is None or attempt.finished is None:
        raise LoginRefused(
            "bad_code", "this login code is unknown or was already used; log in again"
        )
    key = open_secret(ctx.authority, attempt.result_enc, where=login_where(attempt.state_hash))
    attempt.result_enc, attempt.handoff_hash = None, None
    expected = attempt.cli_challenge or ""
    if attempt.finished + HANDOFF_TTL <= ctx.now or not hmac.compare_digest(
        s256(body.code_verifier), expected
    ):
        _revoke_parked(ctx, key)
        ctx.audit("oidc.login.handoff_refused", None, reason="expired or wrong verifier")
        raise CommitThenRaise(
            LoginRefused("bad_code", "this login code expired or is not yours; log in again")
        )
    response = _response(ctx, key)
    ctx.audit("oidc.login.handed_over", response.identity, mode="cli")
    return response


def _user_code() -> str:
    raw = "".join(secrets.choice(_USER_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_user_code(value: str) -> str:
    """People type codes in lower case, with or without the dash."""
    letters = "".join(ch for ch in value.upper() if ch.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else ""


def _only_provider(ctx: Context) -> str:
    names = list(ctx.session.scalars(select(Provider.name).order_by(Provider.name).limit(11)))
    if len(names) == 1:
        return names[0]
    if not names:
        raise NotFound("this server has no login providers")
    raise BadRequest(f"name a provider with --provider: {', '.join(names[:10])}")


def start_device(ctx: Context, body: DeviceStart) -> DeviceAuthorization:
    """RFC 8628 §3.1–3.2: a device code for the CLI, a user code for the person."""
    # Each start writes rows and anyone may start: limited per address and in total.
    wait = ctx.authority.limits.anonymous_start(ctx.client)
    if wait > 0:
        ctx.audit_refusal("oidc.device.start_limited", body.provider)
        raise CommitThenRaise(TooManyRequests("too many device logins started; try later", wait))
    provider = load_provider(ctx, body.provider or _only_provider(ctx))
    # Expired requests are swept here, so the table stays small without a janitor.
    ctx.session.execute(delete(DeviceRequest).where(DeviceRequest.expires < ctx.now - DEVICE_TTL))
    device_code = secrets.token_urlsafe(32)
    row = DeviceRequest(
        id=secrets.token_hex(16),
        device_hash=sha256(device_code),
        user_code=_user_code(),
        provider_id=provider.id,
        status="pending",
        reason=None,
        result_enc=None,
        interval=DEVICE_INTERVAL,
        created=ctx.now,
        expires=ctx.now + DEVICE_TTL,
        last_poll=None,
    )
    ctx.session.add(row)
    ctx.audit("oidc.device.started", provider.name, user_code=row.user_code)
    uri = f"{ctx.authority.settings.issuer_url}/oidc/device"
    return DeviceAuthorization(
        device_code=device_code,
        user_code=row.user_code,
        verification_uri=uri,
        verification_uri_complete=f"{uri}?user_code={row.user_code}",
        expires_in=int(DEVICE_TTL.total_seconds()),
        interval=row.interval,
    )


class DeviceAnswer(Exception):
    """An RFC 8628 §3.5 error answer (``authorization_pending``, ``slow_down``, …)."""

    def __init__(self, error: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error, self.message, self.status = error, message, status


def _due(row: DeviceRequest, now: datetime) -> bool:
    return row.last_poll is None or now - row.last_poll >= timedelta(seconds=row.interval)


def poll_device(
    authority: Authority, session: Session, device_code: str, now: datetime
) -> tuple[str, str, datetime | None]:
    """``(access_key, identity, expires)`` once approved; :class:`DeviceAnswer` until then."""
    row = session.scalars(
        select(DeviceRequest).where(DeviceRequest.device_hash == sha256(device_code))
    ).first()
    if row is None or row.status == "consumed":
        raise DeviceAnswer("invalid_grant", "this device code is unknown or was already used")
    if row.expires <= now:
        raise DeviceAnswer("expired_token", "the device code expired; run jot login --device again")
    if row.status == "denied":
        raise DeviceAnswer("access_denied", f"the login was refused: {row.reason or 'denied'}")
    if not _due(row, now):
        row.interval += 5  # RFC 8628 §3.5: slow_down adds 5 seconds for good.
        row.last_poll = now
        raise DeviceAnswer("slow_down", "polling too fast", 400)
    row.last_poll = now
    if row.status != "approved" or row.result_enc is None:
        raise DeviceAnswer("authorization_pending", "waiting for the login in the browser")
    key = open_secret(authority, row.result_enc, where=device_where(row.id))
    row.status, row.result_enc = "consumed", None
    access = session.get(AccessKey, _key_id(key))
    identity = session.get(Identity, access.identity_id) if access is not None else None
    if access is None or identity is None or access.revoked is not None:
        raise DeviceAnswer("access_denied", "this login was revoked before it was collected")
    return key, identity.name, access.expires
