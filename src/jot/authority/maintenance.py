"""Servers and offline maintenance never overlap: one lock per database, shared or exclusive.

Every ``jot server`` holds the lock *shared* for as long as it runs (its worker processes are
its children and need no lock of their own); an offline maintenance command
(``jot server rotate-root-key``) takes it *exclusive*. Neither waits: a maintenance command
refuses while any server runs, and a server refuses to start while maintenance runs, each
with one line. Without this, a server that kept the old root key would seal new secrets
under it while the rotation moved everything else to the new one.

- SQLite: ``flock`` on ``<database>.lock`` next to the database file (the data directory by
  default); the kernel drops it when the process ends, however it ends.
- PostgreSQL: a session-level advisory lock on a connection kept open for the purpose,
  keyed by the current schema (one jot per schema); it ends with the connection.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from jot.authority.settings import Settings

__all__ = ["LockError", "held", "lock_file"]

# The first half of the two-part advisory key; the second is the schema's hash.
_PG_KEY = 0x6A6F74


class LockError(Exception):
    """Another process holds the lock in a conflicting mode."""


def _refusal(exclusive: bool) -> LockError:
    if exclusive:
        return LockError("a jot server is running on this database: stop every server first")
    return LockError(
        "maintenance (jot server rotate-root-key) is running on this database: "
        "start the server when it has finished"
    )


def lock_file(settings: Settings) -> Path | None:
    """The lock file of a SQLite database, ``None`` for PostgreSQL."""
    database = settings.sqlite_file
    return None if database is None else Path(f"{database}.lock")


@contextlib.contextmanager
def held(settings: Settings, *, exclusive: bool) -> Iterator[None]:
    """Hold the database's lock (shared for a server, exclusive for maintenance).

    :raises LockError: it is held in a conflicting mode.
    """
    if settings.is_sqlite:
        path = lock_file(settings)
        if path is None:  # An in-memory database belongs to one process anyway.
            yield
            return
        with _flock(path, exclusive):
            yield
        return
    with _advisory(settings.sqlalchemy_url, exclusive):
        yield


@contextlib.contextmanager
def _flock(path: Path, exclusive: bool) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise _refusal(exclusive) from None
            raise
        yield
    finally:
        os.close(fd)  # Closing the descriptor releases the lock.


@contextlib.contextmanager
def _advisory(url: str, exclusive: bool) -> Iterator[None]:
    kind = "" if exclusive else "_shared"
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            key = {"a": _PG_KEY}
            got = conn.execute(
                text(f"SELECT pg_try_advisory_lock{kind}(:a, hashtext(current_schema()))"), key
            ).scalar()
            conn.commit()
            if not got:
                raise _refusal(exclusive)
            try:
                yield
            finally:
                with contextlib.suppress(Exception):  # The connection may be gone already.
                    conn.execute(
                        text(f"SELECT pg_advisory_unlock{kind}(:a, hashtext(current_schema()))"),
                        key,
                    )
                    conn.commit()
    finally:
        engine.dispose()
