"""Reading the audit log."""

from __future__ import annotations

from datetime import datetime

from fastapi import Query

from jot.api.session import AuditList
from jot.authority import audit
from jot.authority.context import Context
from jot.authority.errors import Unauthorized
from jot.authority.models import Identity

__all__ = ["list_audit", "my_audit"]


def list_audit(
    ctx: Context,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str | None = Query(default=None, max_length=64),
    actor: str | None = Query(default=None, max_length=253),
    limit: int = Query(default=100, ge=1, le=1000),
    before: int | None = Query(default=None, ge=1, description="older than this id"),
    after: int | None = Query(default=None, ge=0, description="newer than this id"),
) -> AuditList:
    """Newest first. ``kind`` is exact (``login.failed``) or a prefix ending in ``.``.
    ``before`` (the last id seen) pages back; ``after`` (the newest id seen) follows."""
    items = audit.query(
        ctx.session,
        since=since,
        until=until,
        kind=kind,
        actor=actor,
        limit=limit,
        before=before,
        after=after,
    )
    return AuditList(items=items)


def my_audit(
    ctx: Context,
    limit: int = Query(default=20, ge=1, le=100),
    before: int | None = Query(default=None, ge=1, description="older than this id"),
) -> AuditList:
    """The caller's own events, newest first: what it did, and what was done to it (by name;
    token issues are left out, see :func:`jot.authority.audit.own`). Nobody else's, whatever
    the caller's roles: the whole log is ``GET /api/audit``."""
    me = ctx.me()
    identity = ctx.session.get(Identity, me.id)
    if identity is None:
        raise Unauthorized()
    items = audit.own(ctx.session, identity.name, identity.created, limit=limit, before=before)
    return AuditList(items=items)
