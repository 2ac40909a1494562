"""Writers wait for SQLite's write lock in short naps (``db._begin_immediate``), not with
SQLite's own busy handler, and give up after the busy timeout as it would."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import httpx
import pytest

from jot.authority import db
from jot.authority.app import create_app, open_authority
from jot.authority.settings import Settings


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


@pytest.mark.anyio
async def test_a_lock_held_past_the_wait_answers_503_then_writes_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding the write lock too long: token requests (the group commit) and
    other writes answer 503, not 500, and work again once it lets go."""
    monkeypatch.setattr(db, "_WRITE_WAIT", 0.3)
    started = open_authority(Settings(data_dir=tmp_path / "data"))
    app = create_app(authority=started.authority)
    auth = {"Authorization": f"Bearer {started.bootstrap_key}"}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://x", headers=auth) as c:
            holder = _connect(tmp_path / "data" / "jot.db")
            holder.execute("BEGIN IMMEDIATE")
            token = await c.post("/api/tokens", json={"destination": "jot"})
            group = await c.post("/api/groups", json={"name": "ops"})
            assert (token.status_code, group.status_code) == (503, 503), (token.text, group.text)
            assert token.json()["error"] == "unavailable"
            holder.execute("ROLLBACK")
            token = await c.post("/api/tokens", json={"destination": "jot"})
            group = await c.post("/api/groups", json={"name": "ops"})
            assert (token.status_code, group.status_code) == (201, 201), (token.text, group.text)
    finally:
        started.authority.close()
