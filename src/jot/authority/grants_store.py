"""Grant rows and the revision counter behind ``ETag`` and long-polls."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from jot.api import Grant as GrantOut
from jot.authority.context import Context
from jot.authority.errors import BadRequest
from jot.authority.models import Grant, Revision

__all__ = ["bump", "delete_for_subject", "etag", "revision", "to_api"]

_NAME = "grants"


def revision(session: Session) -> int:
    value = session.scalar(select(Revision.value).where(Revision.name == _NAME))
    return int(value or 0)


def etag(value: int) -> str:
    return f'"g{value}"'


def bump(ctx: Context) -> None:
    """Advance the revision in the caller's transaction."""
    session = ctx.session
    result = session.execute(
        update(Revision).where(Revision.name == _NAME).values(value=Revision.value + 1)
    )
    if not getattr(result, "rowcount", 0):
        session.add(Revision(name=_NAME, value=1))
        session.flush()
    ctx.authority.grants_changed.bump()


def delete_for_subject(ctx: Context, subject: str) -> None:
    """Delete the grants of a subject that is being deleted, but never the last admin."""
    admin = (Grant.resource == "jot") & (Grant.role == "admin")
    if ctx.session.scalar(select(Grant.id).where(admin, Grant.subject == subject).limit(1)):
        others = select(Grant.id).where(admin, Grant.subject != subject).limit(1)
        if ctx.session.scalar(others) is None:
            raise BadRequest(f"{subject} holds the last admin grant on 'jot'; add another first")
    result = ctx.session.execute(delete(Grant).where(Grant.subject == subject))
    if getattr(result, "rowcount", 0):
        bump(ctx)


def to_api(row: Grant) -> GrantOut:
    return GrantOut(
        id=row.id, subject=row.subject, role=row.role, resource=row.resource, created=row.created
    )
