"""Writers wait for SQLite's write lock in short naps (``db._begin_immediate``), not with
SQLite's own busy handler, and give up after the busy timeout as it would."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from jot.authority import db


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _busy_timeout(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA busy_timeout").fetchone()[0])


def test_a_writer_waits_for_the_lock_and_then_writes(tmp_path: Path) -> None:
    holder, waiter = _connect(tmp_path / "x.db"), _connect(tmp_path / "x.db")
    holder.execute("CREATE TABLE t (v INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.2, lambda: holder.execute("COMMIT"))
    release.start()
    db._begin_immediate(waiter)  # Blocks until the holder commits.
    waiter.execute("INSERT INTO t VALUES (2)")
    waiter.execute("COMMIT")
    release.join()
    assert sorted(v for (v,) in waiter.execute("SELECT v FROM t")) == [1, 2]
    assert _busy_timeout(waiter) == 30000  # Restored for the connection's other uses.


def test_a_writer_gives_up_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "_WRITE_WAIT", 0.3)
    holder, waiter = _connect(tmp_path / "x.db"), _connect(tmp_path / "x.db")
    holder.execute("CREATE TABLE t (v INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        db._begin_immediate(waiter)
    assert _busy_timeout(waiter) == 300
    holder.execute("ROLLBACK")
    assert not waiter.in_transaction
