"""The one place that reads the authority's browser session (issue 17's sign-in), for the
authorization endpoint and for refreshes: everything else in this package depends on these
three functions only, never on how the session is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.requests import Request

__all__ = ["SignedIn", "session_end", "sign_in_url", "signed_in"]


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
    return None


def sign_in_url(return_to: str) -> str:
    """The sign-in page that sends the browser back to ``return_to`` (a path here) after."""
    return "/sign-in?" + urlencode({"next": return_to})


def session_end(session: Session, session_id: str | None, now: datetime) -> datetime | None:
    """When the browser session ``session_id`` ends, or ``None`` if it has ended by ``now``
    (signed out, revoked, idle or too old)."""
    return None
