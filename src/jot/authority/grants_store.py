"""Grant rows, their subjects, and the revision counter behind ``ETag`` and long-polls.

A grant's subject is stored as an identity id or a group id; on the wire (and in the CLI) it
is ``user:NAME`` or ``group:NAME``, with the subject's current name. :func:`subject_of` is
the one way in, :func:`listing` the one way out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from jot.api import Grant as GrantOut
from jot.api.identities import fold_name
from jot.authority import paging
from jot.authority.access import JOT_DESTINATION
from jot.authority.context import Context, load_identity
from jot.authority.errors import BadRequest, NotFound
from jot.authority.models import Grant, Group, Identity, Revision

__all__ = [
    "CURRENT",
    "Subject",
    "bump",
    "delete_for_subject",
    "etag",
    "listing",
    "require_subject",
    "revision",
    "subject_of",
    "to_api",
]

_NAME = "grants"
#: The revision, as a column of another statement (0 before the first change).
CURRENT: ColumnElement[int] = func.coalesce(
    select(Revision.value).where(Revision.name == _NAME).scalar_subquery(), 0
)


@dataclass(frozen=True)
class Subject:
    """An identity (``identity_id``) or a group (``group_id``), and how it reads."""

    identity_id: str | None
    group_id: str | None
    text: str

    def where(self) -> Any:
        """The condition that selects this subject's grants."""
        if self.identity_id is not None:
            return Grant.identity_id == self.identity_id
        return Grant.group_id == self.group_id


def subject_of(session: Session, text: str) -> Subject | None:
    """``user:NAME`` or ``group:NAME`` → the subject it names now, or ``None``."""
    kind, _, name = text.partition(":")
    if kind == "user":
        identity = load_identity(session, name)
        return None if identity is None else Subject(identity.id, None, f"user:{identity.name}")
    if kind == "group":
        group = session.scalars(select(Group).where(Group.name_key == fold_name(name))).first()
        return None if group is None else Subject(None, group.id, f"group:{group.name}")
    return None


def listing(
    session: Session, *where: Any, page: tuple[str | None, int | None] | None = None
) -> list[GrantOut]:
    """The grants that match ``where``, oldest first, with their subjects' current names;
    ``page`` (``after``, ``limit``) pages them by id instead (:mod:`jot.authority.paging`)."""
    stmt = (
        select(Grant, Identity.name, Group.name)
        .outerjoin(Identity, Identity.id == Grant.identity_id)
        .outerjoin(Group, Group.id == Grant.group_id)
        .where(*where)
        .order_by(Grant.created, Grant.id)
    )
    if page is not None:
        stmt = paging.keyed(stmt, Grant.id, after=page[0], limit=page[1])
    return [
        to_api(row, f"user:{user}" if user is not None else f"group:{group}")
        for row, user, group in session.execute(stmt)
    ]


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


def delete_for_subject(ctx: Context, subject: Subject) -> None:
    """Delete the grants of a subject that is being deleted, but never the last admin.

    The database would delete them with the subject too; doing it here first keeps the
    last-admin rule and moves the revision, so that watching destinations learn of it.
    """
    # Only admin grants without an end count (a time-bound one lapses by itself).
    admin = (Grant.resource == JOT_DESTINATION) & (Grant.role == "admin") & Grant.expires.is_(None)
    mine = select(Grant.id).where(subject.where())
    if ctx.session.scalar(select(Grant.id).where(admin, subject.where()).limit(1)):
        others = select(Grant.id).where(admin, Grant.id.not_in(mine)).limit(1)
        if ctx.session.scalar(others) is None:
            raise BadRequest(
                f"{subject.text} holds the last admin grant on 'jot'; add another first"
            )
    result = ctx.session.execute(delete(Grant).where(subject.where()))
    if getattr(result, "rowcount", 0):
        bump(ctx)


def to_api(row: Grant, subject: str) -> GrantOut:
    return GrantOut(
        id=row.id,
        subject=subject,
        role=row.role,
        resource=row.resource,
        created=row.created,
        expires=row.expires,
    )


def require_subject(session: Session, text: str) -> Subject:
    """:func:`subject_of`, or :class:`NotFound` naming what is missing."""
    found = subject_of(session, text)
    if found is None:
        kind, _, name = text.partition(":")
        raise NotFound(f"no {'identity' if kind == 'user' else 'group'} named {name!r}")
    return found
