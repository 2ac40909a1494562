"""Grants, with ``ETag`` and long-poll for destinations that watch them."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from fastapi import Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import or_, select

from jot.api import Grant as GrantOut
from jot.api import GrantList
from jot.api.requests import MAX_GRANT_DURATION
from jot.api.session import GrantCreate
from jot.authority import access, grants_store, paging, revocations
from jot.authority.context import Context, run
from jot.authority.credentials import new_id
from jot.authority.errors import BadRequest, Conflict, NotFound
from jot.authority.models import Destination, Grant
from jot.authority.state import Authority

__all__ = [
    "STOPPING",
    "check_jot_grant",
    "create_grant",
    "delete_grant",
    "destination_of",
    "put_grant",
    "watch_grants",
]

# How often a long-poll looks at the database revision (other processes' changes).
_DB_POLL = 0.5

#: Set by ``jot server`` when a graceful stop begins: parked long-polls answer at once, so
#: that watching destinations do not hold the stop up for the rest of their ``wait``.
STOPPING = threading.Event()


def list_grants(
    ctx: Context,
    destination: str | None,
    subject: str | None,
    role: str | None = None,
    resource: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> GrantList:
    """The grants, of one destination, subject, role or resource (and its sub-resources) when
    named; with ``limit``, by id from after ``after`` (:mod:`jot.authority.paging`)."""
    access.check_destination(ctx.session, ctx.me().id, ctx.roles, destination, ctx.now)
    where: list[Any] = []
    if role:
        where.append(Grant.role == role)
    if resource:
        where.append(or_(Grant.resource == resource, Grant.resource.startswith(f"{resource}.")))
    if destination is not None:
        row = ctx.session.scalars(
            select(Destination).where(Destination.name == destination)
        ).first()
        if row is None:
            raise NotFound(f"no destination named {destination!r}")
        where.append(Grant.destination_id == row.id)
    if subject is not None:
        found = grants_store.subject_of(ctx.session, subject)
        if found is None:  # Nobody has that name now, so nobody holds grants under it.
            return GrantList(
                items=[], revision=grants_store.revision(ctx.session),
                revoked=revocations.live(ctx.session, ctx.now),
            )  # fmt: skip
        where.append(found.where())
    if limit is not None or after is not None:
        items = grants_store.listing(ctx.session, *where, page=(after, limit))
    else:
        items = grants_store.listing(ctx.session, *where)
    revoked = revocations.live(ctx.session, ctx.now)
    return GrantList(items=items, revision=grants_store.revision(ctx.session), revoked=revoked)


async def watch_grants(
    request: Request,
    response: Response,
    destination: str | None = Query(default=None, max_length=63),
    subject: str | None = Query(default=None, max_length=300),
    role: str | None = Query(default=None, max_length=253),
    resource: str | None = Query(default=None, max_length=300),
    after: str | None = Query(default=None, max_length=32),
    limit: int | None = Query(default=None, ge=1, le=paging.MAX_PAGE),
    wait: float = Query(default=0, ge=0, le=600, description="long-poll seconds"),
) -> GrantList | Response:
    """``GET /api/grants``: the grants, with an ETag; long-polls with ``If-None-Match``."""
    authority: Authority = request.app.state.authority
    wanted = request.headers.get("if-none-match")
    deadline = time.monotonic() + min(wait, authority.settings.max_wait)
    while True:
        seen_local = authority.grants_changed.value
        grants = await run_in_threadpool(
            run,
            request,
            access.Need.GRANTS,
            list_grants,
            destination,
            subject,
            role,
            resource,
            after,
            limit,
        )
        tag = grants_store.etag(grants.revision)
        if wanted is None or not _matches(wanted, tag) or time.monotonic() >= deadline:
            break
        await _sleep_until_change(authority, seen_local, deadline)
        # A destination that went away (restarted, stopped) ends its long-poll here, so that
        # it neither runs to the deadline nor holds up a graceful stop of the server.
        if STOPPING.is_set() or await request.is_disconnected():
            break
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if wanted is not None and _matches(wanted, tag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return grants


async def _sleep_until_change(authority: Authority, seen: int, deadline: float) -> None:
    counter = authority.grants_changed
    stop = min(deadline, time.monotonic() + _DB_POLL)
    while time.monotonic() < stop and counter.value == seen and not STOPPING.is_set():
        await asyncio.sleep(0.05)


def _matches(header: str, tag: str) -> bool:
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return tag in candidates or "*" in candidates


def check_jot_grant(ctx: Context, role: str, resource: str) -> None:
    """On ``jot`` itself: ``admin``, ``view`` and ``metrics``. On ``jot.<destination>``:
    ``connector``, which binds a connector to the one destination whose grants it reads.
    On ``jot.<resource>``: ``approver``, who answers access requests for that resource."""
    if resource == access.JOT_DESTINATION:
        if role in (access.CONNECTOR, access.APPROVER):
            raise BadRequest(
                f"{role} goes on jot.<destination> (the destination it is about), not on jot"
            )
        if role not in access.JOT_ROLES:
            raise BadRequest(
                f"roles on 'jot' are {', '.join(access.JOT_ROLES)} "
                "(connector and approver go on jot.<destination>)"
            )
        return
    target = resource.removeprefix(f"{access.JOT_DESTINATION}.")
    if role not in (access.CONNECTOR, access.APPROVER):
        raise BadRequest(f"the roles on {resource!r} are connector and approver")
    name = target.split(".", 1)[0] if role == access.APPROVER else target
    exists = select(Destination.id).where(Destination.name == name)
    if name == access.JOT_DESTINATION or ctx.session.scalars(exists).first() is None:
        raise NotFound(f"no destination named {name!r} for a {role} to serve")


def destination_of(ctx: Context, resource: str) -> Destination:
    """The destination a resource (``destination[.sub]``) is on; grants on ``jot`` checked."""
    name = resource.split(".", 1)[0]
    destination = ctx.session.scalars(select(Destination).where(Destination.name == name)).first()
    if destination is None:
        raise NotFound(f"no destination named {name!r}; create it first")
    return destination


def create_grant(ctx: Context, body: GrantCreate) -> GrantOut:
    destination = destination_of(ctx, body.resource)
    if destination.name == access.JOT_DESTINATION:
        check_jot_grant(ctx, body.role, body.resource)
    subject = grants_store.require_subject(ctx.session, body.subject)
    until = _until(ctx, body)
    row, outcome = put_grant(ctx, subject, body.role, body.resource, destination, expires=until)
    if outcome == "held":
        raise Conflict(
            "that grant already exists" + (f" until {row.expires}" if row.expires else "")
        )
    ends = {"expires": row.expires.isoformat()} if row.expires else {}
    event = "grant.created" if outcome == "created" else "grant.extended"
    ctx.audit(event, body.resource, subject=subject.text, role=body.role, id=row.id, **ends)
    return grants_store.to_api(row, subject.text)


def _until(ctx: Context, body: GrantCreate) -> datetime | None:
    """When a time-bound grant lapses: ``duration`` from now, or ``expires``."""
    if body.duration is not None and body.expires is not None:
        raise BadRequest("give duration or expires, not both")
    if body.duration is not None:
        return ctx.now + timedelta(seconds=body.duration)
    if body.expires is None:
        return None
    if body.expires.tzinfo is None:
        raise BadRequest("expires needs a time zone (2026-01-15T18:00:00+01:00, or Z for UTC)")
    if body.expires <= ctx.now:
        raise BadRequest("expires is in the past")
    if body.expires > ctx.now + timedelta(seconds=MAX_GRANT_DURATION):
        raise BadRequest("expires is more than a year away")
    return body.expires


def put_grant(
    ctx: Context,
    subject: grants_store.Subject,
    role: str,
    resource: str,
    destination: Destination,
    *,
    expires: datetime | None,
) -> tuple[Grant, str]:
    """The grant ``(subject, role, resource)``, made now (``"created"``), or the one there is:
    a time-bound one runs on to ``expires`` if that is later, or for good when ``expires`` is
    None (``"extended"``); otherwise it stays as it is (``"held"``). Destinations learn of any
    change through the revision."""
    stmt = select(Grant).where(subject.where(), Grant.role == role, Grant.resource == resource)
    row = ctx.session.scalars(stmt).first()
    if row is not None:
        if row.expires is None or (expires is not None and row.expires >= expires):
            return row, "held"
        row.expires = expires
        grants_store.bump(ctx)
        return row, "extended"
    row = Grant(
        id=new_id(),
        identity_id=subject.identity_id,
        group_id=subject.group_id,
        role=role,
        resource=resource,
        destination_id=destination.id,
        created=ctx.now,
        expires=expires,
    )
    ctx.session.add(row)
    ctx.session.flush()
    grants_store.bump(ctx)
    return row, "created"


def delete_grant(ctx: Context, grant_id: str) -> None:
    row = ctx.session.get(Grant, grant_id)
    if row is None:
        raise NotFound(f"no grant with id {grant_id!r}")
    if row.resource == access.JOT_DESTINATION and row.role == "admin":
        _keep_one_admin(ctx, row)
    (shown,) = grants_store.listing(ctx.session, Grant.id == row.id)
    ctx.session.delete(row)
    grants_store.bump(ctx)
    ctx.audit("grant.deleted", row.resource, subject=shown.subject, role=row.role, id=row.id)


def _keep_one_admin(ctx: Context, row: Grant) -> None:
    # Only an admin grant without an end counts: a time-bound one would lock everyone out
    # when it lapses.
    if row.expires is not None:
        return
    stmt = select(Grant).where(
        Grant.resource == access.JOT_DESTINATION,
        Grant.role == "admin",
        Grant.id != row.id,
        Grant.expires.is_(None),
    )
    if ctx.session.scalars(stmt).first() is None:
        raise BadRequest("this is the last admin grant on 'jot'; add another one first")
