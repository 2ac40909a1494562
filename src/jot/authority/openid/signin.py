"""The one place that reads the authority's browser session (:mod:`jot.authority.web.sessions`)
for the provider: the authorization endpoint asks who is signed in, the token endpoint
whether that sign-in still holds. One sign-in serves every destination (single sign-on), and
signing out at the authority ends what every destination made from it at its next refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.requests import Request

from jot.authority.state import Authority
from jot.authority.web import sessions
from jot.authority.web.models import WebSession
from jot.authority.web.pages.signin import AGAIN

__all__ = ["SIGN_IN", "SignedIn", "session_end", "sign_in_url", "signed_in"]

#: The authority's sign-in page (it comes back to ``next``, a path here, afterwards).
SIGN_IN = "/sign-in"


@dataclass(frozen=True)
class SignedIn:
    """Who the browser is signed in as, and since when (OIDC ``auth_time``)."""

    identity_id: str
    session_id: str
    auth_time: datetime
    #: When the browser session ends at the latest; nothing made from it outlives it.
    expires: datetime


def signed_in(request: Request) -> SignedIn | None:
    """The browser session of ``request``, or ``None`` when it has none (or an ended one)."""
    authority: Authority = request.app.state.authority
    cookie = request.cookies.get(sessions.cookie_name(authority))
    client = request.client.host if request.client else None
    active = sessions.find(authority, cookie, client) if cookie else None
    if active is None:
        return None
    with authority.db.transaction(write=False) as db:
        row = db.get(WebSession, active.id)
    if row is None:
        return None
    return SignedIn(active.identity_id, active.id, row.created, row.expires)


def sign_in_url(return_to: str, *, again: bool = False) -> str:
    """The sign-in page that sends the browser back to ``return_to`` (a path here) after;
    ``again``: show the form even to a browser that is signed in (a fresh sign-in)."""
    query = {"next": return_to, **({AGAIN: "1"} if again else {})}
    return f"{SIGN_IN}?" + urlencode(query)


def session_end(session: Session, session_id: str | None, now: datetime) -> datetime | None:
    """When the browser session ``session_id`` ends, or ``None`` if it has ended by ``now``
    (signed out, revoked, idle or too old)."""
    return sessions.live_until(session, session_id, now)
