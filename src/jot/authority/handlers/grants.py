"""Grants, with ``ETag`` and long-poll for destinations that watch them."""

from __future__ import annotations

import asyncio
import threading
import time

from fastapi import Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from jot.api import Grant as GrantOut
from jot.api import GrantList
from jot.api.session import GrantCreate
from jot.authority import access, grants_store
from jot.authority.context import Context, run
from jot.authority.credentials import new_id
from jot.authority.errors import BadRequest, Conflict, NotFound
from jot.authority.models import Destination, Grant
from jot.authority.state import Authority

__all__ = ["STOPPING", "create_grant", "delete_grant", "watch_grants"]

# How often a long-poll looks at the database revision (other processes' changes).
_DB_POLL = 0.5

#: Set by ``jot server`` when a graceful stop begins: parked long-polls answer at once, so
#: that watching destinations do not hold the stop up for the rest of their ``wait``.
STOPPING = threading.Event()


def _list(ctx: Context, destination: str | None, subject: str | None) -> GrantList:
    access.check_destination(ctx.session, ctx.me().id, ctx.roles, destination)
    where = []
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
            return GrantList(items=[], revision=grants_store.revision(ctx.session))
        where.append(found.where())
    items = grants_store.listing(ctx.session, *where)
    return GrantList(items=items, revision=grants_store.revision(ctx.session))


async def watch_grants(
    request: Request,
    response: Response,
    destination: str | None = Query(default=None, max_length=63),
    subject: str | None = Query(default=None, max_length=300),
    wait: float = Query(default=0, ge=0, le=600, description="long-poll seconds"),
) -> GrantList | Response:
    """``GET /api/grants``: the grants, with an ETag; long-polls with ``If-None-Match``."""
    authority: Authority = request.app.state.authority
    wanted = request.headers.get("if-none-match")
    deadline = time.monotonic() + min(wait, authority.settings.max_wait)
    while True:
        seen_local = authority.grants_changed.value
        grants = await run_in_threadpool(
            run, request, access.Need.GRANTS, _list, destination, subject
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


def _check_jot_grant(ctx: Context, role: str, resource: str) -> None:
    """On ``jot`` itself: ``admin`` and ``view``. On ``jot.<destination>``: ``connector``,
    which binds a connector to the one destination whose grants it reads."""
    if resource == access.JOT_DESTINATION:
        if role == access.CONNECTOR:
            raise BadRequest(
                "a connector reads one destination's grants: grant connector on jot.<destination>"
            )
        if role not in ("admin", "view"):
            raise BadRequest(
                "roles on 'jot' are admin and view (connector goes on jot.<destination>)"
            )
        return
    target = resource.removeprefix(f"{access.JOT_DESTINATION}.")
    if role != access.CONNECTOR:
        raise BadRequest(f"the only role on {resource!r} is connector")
    exists = select(Destination.id).where(Destination.name == target)
    if target == access.JOT_DESTINATION or ctx.session.scalars(exists).first() is None:
        raise NotFound(f"no destination named {target!r} for a connector to read")


def create_grant(ctx: Context, body: GrantCreate) -> GrantOut:
    name = body.resource.split(".", 1)[0]
    destination = ctx.session.scalars(select(Destination).where(Destination.name == name)).first()
    if destination is None:
        raise NotFound(f"no destination named {name!r}; create it first")
    if name == access.JOT_DESTINATION:
        _check_jot_grant(ctx, body.role, body.resource)
    subject = grants_store.require_subject(ctx.session, body.subject)
    exists = select(Grant.id).where(
        subject.where(), Grant.role == body.role, Grant.resource == body.resource
    )
    if ctx.session.scalars(exists).first() is not None:
        raise Conflict("that grant already exists")
    row = Grant(
        id=new_id(),
        identity_id=subject.identity_id,
        group_id=subject.group_id,
        role=body.role,
        resource=body.resource,
        destination_id=destination.id,
        created=ctx.now,
    )
    ctx.session.add(row)
    ctx.session.flush()
    grants_store.bump(ctx)
    ctx.audit("grant.created", body.resource, subject=subject.text, role=body.role, id=row.id)
    return grants_store.to_api(row, subject.text)


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
    stmt = select(Grant).where(
        Grant.resource == access.JOT_DESTINATION, Grant.role == "admin", Grant.id != row.id
    )
    if ctx.session.scalars(stmt).first() is None:
        raise BadRequest("this is the last admin grant on 'jot'; add another one first")
