"""Time runs out: time-bound grants lapse, unanswered access requests expire.

:func:`sweep` records both: it deletes each lapsed grant (moving the grants revision, so that
watching destinations get the new list at once) with a ``grant.lapsed`` audit record, and
marks each overdue request ``expired`` with an ``access_request.expired`` record (and a
webhook notification); it deletes deny entries that aged out. Every authority process
sweeps every :data:`SWEEP_INTERVAL` seconds; of two processes that sweep one row at once,
the one whose delete or update hit it records it. An overdue request cannot be approved
before the sweep either.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import delete, select, update

from jot._outage import OutageLog
from jot.authority import grants_store, revocations
from jot.authority.clock import to_datetime
from jot.authority.context import Context
from jot.authority.handlers import requests
from jot.authority.models import AccessRequest, Grant, Identity, Revocation
from jot.authority.state import Authority

__all__ = ["SWEEP_INTERVAL", "sweep", "upkeep"]

log = logging.getLogger("jot.authority")

#: Seconds between sweeps: the bound, with the 1 s caches, on how long a lapsed grant is
#: still listed to destinations.
SWEEP_INTERVAL = 1.0
#: Rows per sweep and kind; a backlog is worked off over the next sweeps.
_BATCH = 500


def sweep(authority: Authority) -> int:
    """Record what lapsed by now; the number of grants and requests recorded."""
    now = to_datetime(authority.clock())
    with authority.db.transaction(write=False) as session:
        grants = list(session.scalars(select(Grant.id).where(Grant.expires <= now).limit(_BATCH)))
        overdue = select(AccessRequest.id).where(
            AccessRequest.state == "pending", AccessRequest.expires <= now
        )
        pending = list(session.scalars(overdue.limit(_BATCH)))
        aged = session.scalar(select(Revocation.id).where(Revocation.until <= now).limit(1))
    if not grants and not pending and aged is None:
        return 0  # The usual case: one read, no write turn taken.
    done = 0
    with authority.db.transaction(write=True) as session:
        ctx = Context(authority, session, now, None)
        done += sum(_lapse(ctx, grant_id) for grant_id in grants)
        done += sum(_expire(ctx, request_id) for request_id in pending)
        revocations.prune(session, now)  # Aged out: every token they concerned has expired.
    authority.forget_checks()
    for hook in ctx.after_commit:
        hook()
    return done


def _lapse(ctx: Context, grant_id: str) -> bool:
    shown = grants_store.listing(ctx.session, Grant.id == grant_id)
    gone = ctx.session.execute(delete(Grant).where(Grant.id == grant_id, Grant.expires <= ctx.now))
    if not shown or not getattr(gone, "rowcount", 0):
        return False  # Another process got there first, or it was extended meanwhile.
    grant = shown[0]
    grants_store.bump(ctx)
    expired = grant.expires.isoformat() if grant.expires else None
    ctx.audit(
        "grant.lapsed", grant.resource, subject=grant.subject, role=grant.role, id=grant.id,
        expires=expired,
    )  # fmt: skip
    return True


def _expire(ctx: Context, request_id: str) -> bool:
    changed = ctx.session.execute(
        update(AccessRequest)
        .where(AccessRequest.id == request_id, AccessRequest.state == "pending")
        .values(state="expired")
    )
    if not getattr(changed, "rowcount", 0):
        return False
    row, requester = ctx.session.execute(
        select(AccessRequest, Identity.name)
        .join(Identity, Identity.id == AccessRequest.identity_id)
        .where(AccessRequest.id == request_id)
    ).one()
    ctx.audit("access_request.expired", row.resource, id=row.id, requester=requester)
    shown = requests.to_api(row, requester, ctx.now)
    ctx.after_commit.append(
        lambda: requests.notify(ctx.authority, "access_request.expired", shown, None)
    )
    return True


async def upkeep(authority: Authority, interval: float = SWEEP_INTERVAL) -> None:
    """Sweep forever (a task of the app's lifespan)."""
    # Said once per outage (the database down makes every round fail), not once a second.
    outage = OutageLog(log, "lapse sweep")
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(sweep, authority)
        except Exception as exc:  # The next round retries; the log says what went wrong.
            outage.failed(exc)
        else:
            outage.ok()
