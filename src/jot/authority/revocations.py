"""Deny entries (``jot revoke``): which subjects and tokens are refused, and until when.

An entry lasts until the last token it could concern has expired: ``now`` plus the longest
token lifetime of any destination, plus the most leeway a destination may give past ``exp``
(:data:`jot.api.claims.MAX_LEEWAY`). Destinations get the live entries with their grants
(:func:`live`); the token decision reads a subject's (:func:`of_subject`); the
lapse sweep deletes entries that aged out (:func:`prune`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from jot.api.claims import MAX_LEEWAY
from jot.api.grants import Revoked
from jot.authority.credentials import new_id
from jot.authority.models import Destination, Revocation
from jot.authority.prepared import Prepared, Reads

__all__ = ["deny", "ends", "live", "of_subject", "prune"]

_SUBJECT = Prepared(
    select(Revocation.until)
    .where(
        Revocation.kind == "subject",
        Revocation.value == bindparam("me"),
        Revocation.until > bindparam("now"),
    )
    .limit(1)
)


def ends(session: Session, now: datetime) -> datetime:
    """When a deny entry made ``now`` ages out: every token issued before then has expired
    (the longest lifetime any destination sets), even at the most lenient destination."""
    longest = session.scalar(select(func.max(Destination.lifetime))) or 0
    return now + timedelta(seconds=int(longest) + MAX_LEEWAY)


def deny(
    session: Session,
    kind: str,
    value: str,
    target: str,
    now: datetime,
    *,
    actor: str | None,
    reason: str | None,
) -> Revocation:
    """The entry refusing ``value`` (a subject's id, or a jti) until :func:`ends`: made now,
    or the one there is, run on. The caller moves the grants revision."""
    until = ends(session, now)  # Before the row is added: a query would flush it unfinished.
    row = session.scalars(
        select(Revocation).where(Revocation.kind == kind, Revocation.value == value)
    ).first()
    if row is None:
        row = Revocation(id=new_id(), kind=kind, value=value, target=target, created=now)
        session.add(row)
    row.until, row.actor, row.reason = until, actor, reason
    session.flush()
    return row


def live(session: Session, now: datetime) -> list[Revoked]:
    """The entries in force at ``now``, as destinations get them."""
    stmt = (
        select(Revocation.kind, Revocation.value, Revocation.until)
        .where(Revocation.until > now)
        .order_by(Revocation.kind, Revocation.value)
    )
    return [
        Revoked(kind=kind, value=value, until=until) for kind, value, until in session.execute(stmt)
    ]


def of_subject(session: Reads, identity_id: str, now: datetime) -> dict[tuple[str, str], float]:
    """The deny entry in force for the identity, as :func:`jot.api.roles.decide` reads deny
    entries (empty: none)."""
    row = _SUBJECT.first(session, {"me": identity_id, "now": now})
    if row is None:
        return {}
    return {("subject", identity_id): row[0].timestamp()}


def prune(session: Session, now: datetime) -> int:
    """Delete the entries that aged out; how many."""
    result = session.execute(delete(Revocation).where(Revocation.until <= now))
    return int(getattr(result, "rowcount", 0) or 0)
