"""Server-side paging of the list routes, by key (never by offset): a page deep into 50,000
rows costs what the first one does.

A list route that takes ``limit`` answers at most that many items, ordered by its paging key
(a name, an id), and ``after`` (the key of the last item seen) starts the next page after
it. Without ``limit`` a route answers everything, as it always did. ``q`` narrows a list of
named things to names that start with it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import QueryableAttribute

from jot.authority.errors import BadRequest

__all__ = ["MAX_PAGE", "keyed"]

#: The largest page a list route answers.
MAX_PAGE = 500

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def keyed(
    stmt: S,
    key: QueryableAttribute[Any],
    *,
    after: str | None,
    limit: int | None,
    prefix: str | None = None,
) -> S:
    """``stmt`` ordered by ``key``, from after ``after``, at most ``limit`` rows, keys that
    start with ``prefix`` only (each ``None``: no such bound)."""
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit: 1 to {MAX_PAGE}")
    if after is not None and len(after) > 300:
        raise BadRequest("after: at most 300 characters")
    if prefix:
        stmt = stmt.where(key.startswith(prefix[:300], autoescape=True))
    if after is not None:
        stmt = stmt.where(key > after)
    stmt = stmt.order_by(None).order_by(key)
    return stmt.limit(limit) if limit is not None else stmt
