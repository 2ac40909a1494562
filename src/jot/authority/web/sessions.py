"""Browser sessions: the cookie, the row behind it, and the access key the session acts with.

The cookie is ``__Host-jot_session`` when the authority is served over https (RFC 6265bis
§4.1.3.2: Secure, host-only, ``Path=/``, so a sibling subdomain cannot plant or read one),
else ``jot_session``; always ``HttpOnly`` (no script reads it) and ``SameSite=Lax`` (a link
from elsewhere lands signed in; a cross-site post carries no cookie). A session ends after
``web_session_idle`` seconds without a request, ``web_session_lifetime`` seconds after
sign-in, at sign-out, or when its access key (or one it was made from) is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.responses import Response

from jot.authority import audit, lineage
from jot.authority.clock import to_datetime
from jot.authority.models import AccessKey, Identity
from jot.authority.oidc.sealed import root_key
from jot.authority.state import Authority
from jot.authority.web.models import WebSession

__all__ = [
    "KEY_NAME",
    "Active",
    "cookie_name",
    "end",
    "find",
    "live_until",
    "local_path",
    "set_cookie",
    "start",
]

#: The name of the access key a session acts with (as the key lists show it).
KEY_NAME = "web session"

# last_seen is written at most this often per session, so page views stay reads.
_TOUCH_EVERY = timedelta(seconds=60)


def cookie_name(authority: Authority) -> str:
    return "__Host-jot_session" if _secure(authority) else "jot_session"


def set_cookie(response: Response, authority: Authority, value: str) -> None:
    """The session cookie, by the rules above (no ``Max-Age``: the server keeps the clock)."""
    response.set_cookie(
        cookie_name(authority),
        value,
        path="/",
        secure=_secure(authority),
        httponly=True,
        samesite="lax",
    )


def local_path(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def _secure(authority: Authority) -> bool:
    return authority.settings.issuer_url.startswith("https://")


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _context(session_id: str) -> bytes:
    # The sealed key is bound to its row: copied into another session it does not open.
    return f"web:session:{session_id}".encode()


@dataclass(frozen=True)
class Active:
    """A live session: its id (public: shown in lists, binds the CSRF tokens) and the access
    key its requests are made with."""

    id: str
    identity_id: str
    access_key: str


def start(
    authority: Authority,
    *,
    identity_id: str,
    name: str,
    key_id: str,
    key: str,
    method: str,
    client: str | None,
    user_agent: str | None,
) -> str:
    """Record a new session for ``key`` (already made for it); returns the cookie value.

    The key is bounded to the session: it expires with it and idles out with it, so nothing
    outlives the session even if the row were lost.
    """
    settings = authority.settings
    now = to_datetime(authority.clock())
    session_id, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=settings.web_session_lifetime)
    idle = settings.web_session_idle
    with authority.db.transaction(write=True) as db:
        row = db.get(AccessKey, key_id)
        if row is not None:
            row.expires, row.inactivity_timeout = lineage.bounded(row, expires, idle)
            row.name = KEY_NAME
        db.add(
            WebSession(
                id=session_id,
                secret_hash=_sha256(secret),
                identity_id=identity_id,
                access_key_id=key_id,
                key_enc=root_key(authority).encrypt(key.encode(), context=_context(session_id)),
                method=method,
                created=now,
                last_seen=now,
                expires=expires,
                idle_timeout=idle,
                ended=None,
                client=client,
                user_agent=(user_agent or "")[:200] or None,
            )
        )
        audit.record(
            db,
            now,
            "web.session.started",
            actor=name,
            target=name,
            client=client,
            detail={"session": session_id, "method": method, "access_key": key_id},
        )
    return f"{session_id}.{secret}"


def _parse(cookie: str | None) -> tuple[str, str] | None:
    session_id, _, secret = (cookie or "").partition(".")
    if len(session_id) != 32 or not 40 <= len(secret) <= 50:
        return None
    return session_id, secret


def find(authority: Authority, cookie: str | None, client: str | None) -> Active | None:
    """The live session of ``cookie``, or ``None``. A session found past its idle timeout or
    lifetime is ended here (and audited)."""
    parsed = _parse(cookie)
    if parsed is None:
        return None
    session_id, secret = parsed
    now = to_datetime(authority.clock())
    with authority.db.transaction(write=False) as db:
        row = db.get(WebSession, session_id)
    if row is None or not hmac.compare_digest(_sha256(secret), row.secret_hash):
        return None
    if row.ended is not None:
        return None
    reason = _expired(row, now)
    if reason is not None:
        end(authority, row.id, reason=reason, client=client)
        return None
    if now - row.last_seen >= _TOUCH_EVERY:
        with authority.db.transaction(write=True) as db:
            db.execute(update(WebSession).where(WebSession.id == row.id).values(last_seen=now))
    key = root_key(authority).decrypt(row.key_enc, context=_context(row.id)).decode()
    return Active(row.id, row.identity_id, key)


def live_until(db: Session, session_id: str | None, now: datetime) -> datetime | None:
    """When session ``session_id`` ends at the latest, or ``None`` if it has ended (signed
    out, idle, too old, or its access key revoked): what is made from a session elsewhere
    (the OpenID provider's codes and refresh tokens) asks this. Such a use counts as activity,
    as a page view does: it keeps the session from idling out."""
    row = db.get(WebSession, session_id) if session_id else None
    if row is None or row.ended is not None or _expired(row, now) is not None:
        return None
    key = db.get(AccessKey, row.access_key_id)
    if key is None or key.revoked is not None:
        return None
    if now - row.last_seen >= _TOUCH_EVERY:
        row.last_seen = now
    return row.expires


def _expired(row: WebSession, now: datetime) -> str | None:
    if row.expires <= now:
        return "lifetime"
    if row.last_seen + timedelta(seconds=row.idle_timeout) <= now:
        return "idle"
    return None


def end(
    authority: Authority,
    session_id: str,
    *,
    reason: str,
    client: str | None,
    actor: str | None = None,
) -> bool:
    """End the session and revoke its access key (and every key made from it); audited.
    Returns whether it was live."""
    now = to_datetime(authority.clock())
    with authority.db.transaction(write=True) as db:
        row = db.get(WebSession, session_id, with_for_update=True)
        if row is None or row.ended is not None:
            return False
        row.ended = now
        revoked = lineage.revoke(db, [row.access_key_id], now)
        _audit(db, now, row, reason, client, actor, revoked)
    authority.forget_checks()
    return True


def _audit(
    db: Session,
    now: datetime,
    row: WebSession,
    reason: str,
    client: str | None,
    actor: str | None,
    revoked: list[str],
) -> None:
    name = db.scalar(select(Identity.name).where(Identity.id == row.identity_id))
    audit.record(
        db,
        now,
        "web.session.ended",
        actor=actor,
        target=name,
        client=client,
        detail={"session": row.id, "reason": reason, "revoked_access_keys": revoked},
    )
