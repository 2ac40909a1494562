"""Prepared statements (the token path's reads straight on the driver) answer what SQLAlchemy's
own execute answers, with the columns' conversions, on SQLite and PostgreSQL; a failing
statement raises SQLAlchemy's error, as the database guard and the error handlers expect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, select, union_all
from sqlalchemy.exc import DBAPIError

from jot.authority.app import Started
from jot.authority.credentials import new_id
from jot.authority.models import Revocation
from jot.authority.prepared import Prepared

_UNTIL = (
    select(Revocation.value, Revocation.until)
    .where(Revocation.kind == "subject", Revocation.until > bindparam("now"))
    .order_by(Revocation.value)
    .limit(2)
)


def _revoke(started: Started, *values: tuple[str, datetime]) -> None:
    with started.authority.db.transaction() as session:
        for value, until in values:
            session.add(
                Revocation(
                    id=new_id(),
                    kind="subject",
                    value=value,
                    target=value,
                    until=until,
                    created=until,
                    actor="t",
                )
            )


def test_rows_match_sqlalchemys_including_aware_datetimes(started: Started) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _revoke(
        started,
        ("a", now + timedelta(hours=1)),
        ("b", now + timedelta(hours=2)),
        ("c", now + timedelta(hours=3)),
        ("old", now - timedelta(hours=1)),
    )
    prepared = Prepared(_UNTIL)
    with started.authority.db.transaction(write=False) as session:
        expected = [tuple(row) for row in session.execute(_UNTIL, {"now": now})]
        rows = prepared.rows(session, {"now": now})
        assert prepared.first(session, {"now": now + timedelta(days=1)}) is None
    assert rows == expected
    assert [value for value, _ in rows] == ["a", "b"]  # The statement's own LIMIT 2 held.
    assert all(until.tzinfo is not None for _, until in rows)


def test_a_union_with_a_null_column(started: Started) -> None:
    now = datetime.now(UTC)
    _revoke(started, ("a", now + timedelta(hours=1)))
    both = union_all(
        select(Revocation.value, Revocation.until).where(Revocation.value == bindparam("v")),
        select(Revocation.value, Revocation.until).where(Revocation.value == bindparam("none")),
    )
    with started.authority.db.transaction(write=False) as session:
        assert [value for value, _ in Prepared(both).rows(session, {"v": "a", "none": "x"})] == [
            "a"
        ]


def test_a_failing_statement_raises_sqlalchemys_error(started: Started) -> None:
    broken = Prepared(select(Revocation.value).where(Revocation.value == bindparam("v")))
    broken._for(started.authority.db.engine.dialect)  # Compile, then break the SQL.
    name = started.authority.db.engine.dialect.name
    compiled = broken._compiled[name]
    object.__setattr__(compiled, "sql", compiled.sql.replace("revocations", "no_such_table"))
    with (
        pytest.raises(DBAPIError, match="no_such_table"),
        started.authority.db.transaction(write=False) as session,
    ):
        broken.rows(session, {"v": "a"})
