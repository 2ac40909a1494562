"""Lockouts that outlive Redis and restarts: the database is their source.

The counters stay where they are (in process, in Redis): they change at every failure and
matter only for a window. A *lock* of the password, user-code and access-key limits is
written here too, so that neither a Redis restart (which empties Redis) nor an authority
restart (which empties the in-process limits) lifts it: at start the live locks are loaded
into the limiters, and :class:`~jot.authority.ratelimit.FallbackLimiter` writes them back
into Redis when Redis comes back empty.

A flood of failures is not a flood of writes: a key's lock is written again only when it
grows by a tenth (at least a second), and at most :data:`_REMEMBERED` keys are remembered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from jot._outage import OutageLog
from jot.authority.db import Database
from jot.authority.models import LimitLock

__all__ = ["LockBook"]

log = logging.getLogger("jot.authority")

_REMEMBERED = 100_000


class LockBook:
    """Writes go through one background thread: a request that counts a failure may hold
    a writing transaction already (SQLite's one writer), and a lock needs no wait."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db, self._clock = db, clock
        self._saved: dict[str, float] = {}
        self._pending: dict[str, float | None] = {}  # key -> until, or None to delete
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._outage = OutageLog(log, "saving rate-limit locks (database)")

    def save(self, key: str, seconds: float) -> None:
        """Record that ``key`` is locked for ``seconds`` from now."""
        until = self._clock() + seconds
        with self._guard:
            if self._saved.get(key, 0.0) >= until - max(1.0, seconds / 10):
                return
            if len(self._saved) >= _REMEMBERED:
                self._saved.clear()
            self._saved[key] = until
            self._queue(key, until)

    def forget(self, key: str) -> None:
        """Drop ``key``'s lock record, if this process wrote one (a lock another replica
        wrote simply runs out)."""
        with self._guard:
            if self._saved.pop(key, None) is not None:
                self._queue(key, None)

    def live(self) -> list[tuple[str, float]]:
        """Every live lock as ``(key, seconds left)`` (a read: safe inside a request)."""
        now = self._clock()
        with self._db.transaction(write=False) as session:
            rows = session.execute(
                select(LimitLock.key, LimitLock.until).where(LimitLock.until > now)
            ).all()
        return [(key, until - now) for key, until in rows]

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued write is done (tests, shutdown)."""
        return self._idle.wait(timeout)

    def _queue(self, key: str, until: float | None) -> None:
        # Called with the guard held.
        self._pending[key] = until
        self._idle.clear()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="jot-lockbook", daemon=True)
            self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._guard:
                batch, self._pending = self._pending, {}
            try:
                self._write(batch)
            except SQLAlchemyError as exc:  # The in-process and Redis locks still hold.
                self._outage.failed(exc)
            else:
                self._outage.ok()
            with self._guard:
                if not self._pending:
                    self._idle.set()

    def _write(self, batch: dict[str, float | None]) -> None:
        with self._db.transaction() as session:
            # Expired records go with every batch: the table holds live locks only.
            session.execute(delete(LimitLock).where(LimitLock.until <= self._clock()))
            for key, until in batch.items():
                if until is None:
                    session.execute(delete(LimitLock).where(LimitLock.key == key))
                else:
                    session.merge(LimitLock(key=key, until=until))
