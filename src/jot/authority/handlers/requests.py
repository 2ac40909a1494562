"""Access requests: ask for a role for a while; an approver (or an admin) answers.

Every step is audited (``access_request.*``) and, when ``webhook_url`` is set, notified after
the commit. An approval makes a time-bound grant (or runs a time-bound one on); the grant's
lapse is :mod:`jot.authority.lapse`'s, as is the expiry of requests nobody answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import Query
from sqlalchemy import ColumnElement, false, func, or_, select, update

from jot.api.requests import (
    MAX_PENDING,
    MAX_PER_HOUR,
    AccessRequestCreate,
    AccessRequestList,
    Answer,
    RequestState,
)
from jot.api.requests import AccessRequest as RequestOut
from jot.authority import access, grants_store
from jot.authority.context import Context
from jot.authority.credentials import new_id
from jot.authority.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests
from jot.authority.handlers.grants import check_jot_grant, destination_of, put_grant
from jot.authority.models import AccessRequest, Grant, Identity
from jot.authority.state import Authority

__all__ = [
    "approve_request",
    "cancel_request",
    "create_request",
    "deny_request",
    "get_request",
    "list_requests",
    "notify",
    "to_api",
]


def to_api(row: AccessRequest, requester: str, now: datetime) -> RequestOut:
    # A pending request past its time reads as expired before the sweep records it.
    state = "expired" if row.state == "pending" and row.expires <= now else row.state
    return RequestOut(
        id=row.id,
        requester=requester,
        role=row.role,
        resource=row.resource,
        duration=row.duration,
        reason=row.reason,
        state=state,
        created=row.created,
        expires=row.expires,
        decided=row.decided,
        decided_by=row.decided_by,
        note=row.note,
        grant=row.grant_id,
        grant_expires=row.grant_expires,
    )


def notify(authority: Authority, event: str, shown: RequestOut, by: str | None) -> None:
    """Send ``event`` to the webhook (if one is set), as a chat line and the request."""
    if authority.notifier is None:
        return
    what = f"{shown.role} on {shown.resource} for {timedelta(seconds=shown.duration)}"
    lines = {
        "access_request.created": f"{shown.requester} asks for {what}: {shown.reason}",
        "access_request.approved": f"{by} approved {shown.requester}'s {what}",
        "access_request.denied": f"{by} denied {shown.requester}'s {what}",
        "access_request.cancelled": f"{shown.requester} cancelled their request for {what}",
        "access_request.expired": f"{shown.requester}'s request for {what} expired unanswered",
    }
    text = _chat(f"{lines[event]} (request {shown.id})")
    authority.notifier.send(event, {"text": text, "request": shown.model_dump(mode="json")})


def _chat(line: str) -> str:
    """``line`` as chat text: a requester's reason such as ``<!channel>`` or ``<https://x|a
    link>`` must not ping everyone or dress a link up in the approvers' channel (Slack's
    three control characters, escaped as Slack and Mattermost read them)."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _load(ctx: Context, request_id: str) -> tuple[AccessRequest, str]:
    stmt = (
        select(AccessRequest, Identity.name)
        .join(Identity, Identity.id == AccessRequest.identity_id)
        .where(AccessRequest.id == request_id)
    )
    found = ctx.session.execute(stmt).first()
    if found is None:
        raise NotFound(f"no access request with id {request_id!r}")
    return found[0], found[1]


def _step(
    ctx: Context, event: str, row: AccessRequest, requester: str, **detail: Any
) -> RequestOut:
    """Audit one step now, and notify it once the transaction has committed."""
    ctx.audit(event, row.resource, id=row.id, requester=requester, role=row.role, **detail)
    shown = to_api(row, requester, ctx.now)
    ctx.after_commit.append(lambda: notify(ctx.authority, event, shown, ctx.actor))
    return shown


def create_request(ctx: Context, body: AccessRequestCreate) -> RequestOut:
    """Ask for ``role`` on ``resource`` for ``duration`` seconds, saying why."""
    me, settings = ctx.me(), ctx.authority.settings
    if body.duration > settings.access_request_max_duration:
        hours = settings.access_request_max_duration / 3600
        raise BadRequest(f"the longest access this authority grants on request is {hours:g} h")
    destination = destination_of(ctx, body.resource)
    if destination.name == access.JOT_DESTINATION:
        check_jot_grant(ctx, body.role, body.resource)
    _not_flooding(ctx, me.id)
    held = select(Grant.expires).where(
        Grant.identity_id == me.id, Grant.role == body.role, Grant.resource == body.resource
    )
    if ctx.session.execute(held).first() == (None,):
        raise BadRequest(f"you hold {body.role} on {body.resource} already, with no end")
    pending = select(AccessRequest.id).where(
        AccessRequest.identity_id == me.id,
        AccessRequest.role == body.role,
        AccessRequest.resource == body.resource,
        AccessRequest.state == "pending",
        AccessRequest.expires > ctx.now,
    )
    other = ctx.session.scalars(pending).first()
    if other is not None:
        raise Conflict(f"you asked for this already: request {other} waits for an answer")
    row = AccessRequest(
        id=new_id(),
        identity_id=me.id,
        role=body.role,
        resource=body.resource,
        destination_id=destination.id,
        duration=body.duration,
        reason=body.reason,
        state="pending",
        created=ctx.now,
        expires=ctx.now + timedelta(seconds=settings.access_request_ttl),
    )
    ctx.session.add(row)
    ctx.session.flush()
    return _step(
        ctx, "access_request.created", row, me.name, duration=body.duration, reason=body.reason
    )


def _not_flooding(ctx: Context, identity_id: str) -> None:
    """At most :data:`MAX_PENDING` requests of one person wait at once (429 until the oldest
    is answered, cancelled or expires), and at most :data:`MAX_PER_HOUR` are made in an hour
    (asking and cancelling in a loop would notify the approvers as often)."""
    mine = AccessRequest.identity_id == identity_id
    waiting = select(func.count(), func.min(AccessRequest.expires)).where(
        mine, AccessRequest.state == "pending", AccessRequest.expires > ctx.now
    )
    count, first_end = ctx.session.execute(waiting).one()
    if count >= MAX_PENDING:
        raise TooManyRequests(
            f"you have {count} requests waiting for an answer; cancel one or wait",
            (first_end - ctx.now).total_seconds(),
        )
    hour = timedelta(hours=1)
    recent = select(func.count(), func.min(AccessRequest.created)).where(
        mine, AccessRequest.created > ctx.now - hour
    )
    count, first = ctx.session.execute(recent).one()
    if count >= MAX_PER_HOUR:
        raise TooManyRequests(
            f"you asked {count} times in the last hour; wait a while",
            (first + hour - ctx.now).total_seconds(),
        )


def _visible(ctx: Context) -> ColumnElement[bool]:
    """Everything for admins and viewers; one's own requests and those one may answer."""
    if access.reads_everything(ctx.roles):
        return ~false()
    me = ctx.me()
    # The scopes come from the one rule (jot.api.roles); this is rule 2 (a scope covers
    # itself and what is below it) as a SQL filter, so that the list pages in the database:
    # what it lists is exactly what may_approve lets one answer (test_who_may_answer).
    scopes = access.approver_scopes(ctx.session, me.id, ctx.now)
    below = [
        or_(AccessRequest.resource == scope, AccessRequest.resource.startswith(f"{scope}."))
        for scope in sorted(scopes)
        if scope.split(".", 1)[0] != access.JOT_DESTINATION
    ]
    return or_(AccessRequest.identity_id == me.id, *below)


def list_requests(
    ctx: Context,
    state: RequestState | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    mine: bool = False,
) -> AccessRequestList:
    """Newest first: every request for admins and viewers, else one's own and those one may
    answer. ``state=pending`` lists what waits for an answer; ``mine`` only one's own."""
    stmt = select(AccessRequest, Identity.name).join(
        Identity, Identity.id == AccessRequest.identity_id
    )
    stmt = stmt.where(_visible(ctx))
    if mine:
        stmt = stmt.where(AccessRequest.identity_id == ctx.me().id)
    if state == "pending":
        stmt = stmt.where(AccessRequest.state == "pending", AccessRequest.expires > ctx.now)
    elif state == "expired":
        lapsed = (AccessRequest.state == "pending") & (AccessRequest.expires <= ctx.now)
        stmt = stmt.where(or_(AccessRequest.state == "expired", lapsed))
    elif state is not None:
        stmt = stmt.where(AccessRequest.state == state)
    rows = ctx.session.execute(
        stmt.order_by(AccessRequest.created.desc(), AccessRequest.id).limit(limit)
    )
    return AccessRequestList(items=[to_api(row, name, ctx.now) for row, name in rows])


def get_request(ctx: Context, request_id: str) -> RequestOut:
    row, requester = _load(ctx, request_id)
    mine = row.identity_id == ctx.me().id
    if not (mine or access.reads_everything(ctx.roles) or _may_answer(ctx, row)):
        raise NotFound(f"no access request with id {request_id!r}")
    return to_api(row, requester, ctx.now)


def _may_answer(ctx: Context, row: AccessRequest) -> bool:
    return access.may_approve(ctx.session, ctx.me().id, ctx.roles, row.resource, ctx.now)


def _answerable(ctx: Context, request_id: str) -> tuple[AccessRequest, str]:
    """The request, if the caller may answer it now."""
    row, requester = _load(ctx, request_id)
    if row.identity_id == ctx.me().id:
        # Four eyes: an approver or admin who wants access asks someone else.
        raise Forbidden("you cannot answer your own request; another approver must")
    if not _may_answer(ctx, row):
        if access.reads_everything(ctx.roles):
            raise Forbidden(
                f"answering requests for {row.resource} needs the approver role on "
                f"jot.{row.resource} (or above it), or admin"
            )
        raise NotFound(f"no access request with id {request_id!r}")
    _still_pending(ctx, row)
    return row, requester


def _still_pending(ctx: Context, row: AccessRequest) -> None:
    if row.state == "pending" and row.expires <= ctx.now:
        raise Conflict(f"request {row.id} expired unanswered; ask again")
    if row.state != "pending":
        by = f" by {row.decided_by}" if row.decided_by else ""
        raise Conflict(f"request {row.id} was {row.state}{by} already")


def approve_request(ctx: Context, request_id: str, body: Answer) -> RequestOut:
    """Approve: the requester holds the role until ``duration`` seconds from now."""
    row, requester = _answerable(ctx, request_id)
    longest = ctx.authority.settings.access_request_max_duration
    if row.duration > longest:
        # The cap was lowered after the request: approving must not grant past it.
        raise Conflict(
            f"request {row.id} asks for longer than the {longest / 3600:g} h this authority "
            "now grants on request; deny it and ask for less"
        )
    _decide(ctx, row, "approved", body.note)
    destination = destination_of(ctx, row.resource)
    subject = grants_store.Subject(row.identity_id, None, f"user:{requester}")
    until = ctx.now + timedelta(seconds=row.duration)
    grant, outcome = put_grant(ctx, subject, row.role, row.resource, destination, expires=until)
    row.grant_id, row.grant_expires = grant.id, grant.expires
    if outcome != "held":
        event = "grant.created" if outcome == "created" else "grant.extended"
        ctx.audit(
            event, row.resource, subject=subject.text, role=row.role, id=grant.id,
            expires=grant.expires.isoformat() if grant.expires else None, request=row.id,
        )  # fmt: skip
    return _step(ctx, "access_request.approved", row, requester, grant=grant.id, note=body.note)


def deny_request(ctx: Context, request_id: str, body: Answer) -> RequestOut:
    row, requester = _answerable(ctx, request_id)
    _decide(ctx, row, "denied", body.note)
    return _step(ctx, "access_request.denied", row, requester, note=body.note)


def cancel_request(ctx: Context, request_id: str) -> RequestOut:
    """The requester takes back a request that waits for an answer."""
    row, requester = _load(ctx, request_id)
    if row.identity_id != ctx.me().id:
        if access.reads_everything(ctx.roles) or _may_answer(ctx, row):
            raise Forbidden("only the requester cancels a request; deny it instead")
        raise NotFound(f"no access request with id {request_id!r}")
    _still_pending(ctx, row)
    _decide(ctx, row, "cancelled", None)
    return _step(ctx, "access_request.cancelled", row, requester)


def _decide(ctx: Context, row: AccessRequest, state: str, note: str | None) -> None:
    """Move a pending request to ``state``, once: of two answers at the same time, the
    second waits for the first's row lock, then finds nothing pending and is refused."""
    stmt = (
        update(AccessRequest)
        .where(AccessRequest.id == row.id, AccessRequest.state == "pending")
        .values(state=state, decided=ctx.now, decided_by=ctx.actor, note=note)
        .execution_options(synchronize_session="fetch")
    )
    if not getattr(ctx.session.execute(stmt), "rowcount", 0):
        raise Conflict(f"request {row.id} was answered meanwhile")
