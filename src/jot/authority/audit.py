"""The append-only audit log: logins, token issues and every administrative change."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from jot.api.session import AuditEvent as AuditOut
from jot.authority.models import AuditEvent

__all__ = ["query", "record"]


_INSERT = insert(AuditEvent.metadata.tables[AuditEvent.__tablename__])


def record(
    session: Session,
    time: datetime,
    kind: str,
    *,
    actor: str | None,
    target: str | None,
    client: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event in the caller's transaction (it is lost only if that rolls back)."""
    # A prebuilt table insert: the ORM's unit of work (and even its bulk path) costs more
    # than the row itself on the token hot path.
    row = {
        "time": time,
        "kind": kind,
        "actor": actor,
        "target": target,
        "client": client,
        "detail": json.dumps(detail or {}, sort_keys=True),
    }
    # On the session's connection: the same transaction, without the ORM's execute layer
    # (which costs more than the insert itself on the token hot path).
    session.connection().execute(_INSERT, row)


def query(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str | None = None,
    actor: str | None = None,
    limit: int = 100,
) -> list[AuditOut]:
    """Newest first; ``kind`` matches exactly or as a prefix ending in ``.`` (``login.``)."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if since is not None:
        stmt = stmt.where(AuditEvent.time >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.time < until)
    if kind:
        stmt = stmt.where(
            AuditEvent.kind.startswith(kind, autoescape=True)
            if kind.endswith(".")
            else AuditEvent.kind == kind
        )
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    return [
        AuditOut(
            id=row.id,
            time=row.time,
            kind=row.kind,
            actor=row.actor,
            target=row.target,
            client=row.client,
            detail=json.loads(row.detail),
        )
        for row in session.scalars(stmt)
    ]
