"""The group commit of audit rows: every waiter answers only after its row is committed,
and learns of a failed commit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from jot.authority import audit
from jot.authority.db import Database, migrate

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'jot.db'}")
    migrate(database)
    yield database
    database.dispose()


def _row(n: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    return audit.row(now, "token.issued", actor="a", target="web", client=None, detail={"n": n})


def _logged(db: Database) -> list[int]:
    with db.transaction(write=False) as session:
        return sorted(e.detail["n"] for e in audit.query(session, kind="token.issued"))


async def test_rows_are_committed_when_write_returns(db: Database) -> None:
    log = audit.GroupCommit(db)
    await asyncio.gather(*(log.write(_row(n)) for n in range(10)))
    assert _logged(db) == list(range(10))
    await log.write(_row(10))  # A later write starts a new flush.
    assert _logged(db) == list(range(11))


async def test_a_failed_commit_fails_every_waiter_then_recovers(tmp_path: Path) -> None:
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")  # No tables: the insert fails.
    try:
        log = audit.GroupCommit(empty)
        results = await asyncio.gather(
            *(log.write(_row(n)) for n in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, OperationalError) for r in results), results
        migrate(empty)
        await log.write(_row(3))
        assert _logged(empty) == [3]
    finally:
        empty.dispose()


async def test_a_cancelled_waiter_does_not_disturb_the_others(db: Database) -> None:
    log = audit.GroupCommit(db)
    writes = [asyncio.ensure_future(log.write(_row(n))) for n in range(3)]
    await asyncio.sleep(0)  # All three rows are queued; the flush has started.
    writes[1].cancel()
    done = await asyncio.gather(*writes, return_exceptions=True)
    assert done[0] is None
    assert done[2] is None
    assert isinstance(done[1], asyncio.CancelledError)
    assert _logged(db) == [0, 1, 2]  # The cancelled request's row is kept (its token left).


async def test_rows_of_the_next_turns_of_the_loop_join_the_batch(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests that write a turn or two after the first share its batch; a turn that adds
    nothing ends the wait."""
    batches: list[int] = []
    insert = audit.GroupCommit._insert

    def counting(self: audit.GroupCommit, rows: list[dict[str, Any]], *args: Any) -> None:
        batches.append(len(rows))
        insert(self, rows, *args)

    monkeypatch.setattr(audit.GroupCommit, "_insert", counting)
    log = audit.GroupCommit(db)

    async def later(n: int, turns: int) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)
        await log.write(_row(n))

    await asyncio.gather(*(later(n, turns=n) for n in range(3)))
    assert batches == [3]
    await asyncio.gather(later(3, turns=0), later(4, turns=audit._GATHER_TURNS + 2))
    assert batches == [3, 1, 1]
    assert _logged(db) == list(range(5))
