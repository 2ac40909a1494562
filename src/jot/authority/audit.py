"""The append-only audit log: logins, token issues and every administrative change."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Update, bindparam, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from jot.api.session import AuditEvent as AuditOut
from jot.authority.db import Database
from jot.authority.lanes import Lanes
from jot.authority.models import TOKEN_ISSUED, AuditEvent
from jot.authority.prepared import Prepared

__all__ = ["GroupCommit", "Refusals", "own", "own_side", "query", "record", "row"]


_TABLE = AuditEvent.metadata.tables[AuditEvent.__tablename__]
#: The insert of rows (:func:`row`: every column but the id, which is the database's), run
#: on the driver: SQLAlchemy's execute path cost ~30 µs a call, more than SQLite's BEGIN,
#: rows and COMMIT of a group commit's batch (often a row or two).
_INSERT = Prepared(
    insert(_TABLE).values(
        {c.name: bindparam(c.name, type_=c.type) for c in _TABLE.columns if not c.primary_key}
    )
)


def row(
    time: datetime,
    kind: str,
    *,
    actor: str | None,
    target: str | None,
    client: str | None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One event as the values of the prebuilt table insert."""
    return {
        "time": time,
        "kind": kind,
        "actor": actor,
        "target": target,
        "client": client,
        "detail": json.dumps(detail or {}, sort_keys=True),
    }


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
    values = row(time, kind, actor=actor, target=target, client=client, detail=detail)
    # The prebuilt insert on the session's connection: the ORM's unit of work and execute
    # layer cost more than the row itself.
    _INSERT.execute_many(session, [values])


class Refusals:
    """Repeated refusals folded into few rows, so that anonymous traffic cannot grow the log
    without bound: at most one row per (kind, target, client) every ``every`` seconds, which
    says in ``detail.repeated`` how many refusals since the previous row were folded into it.
    Kept in process: each worker writes its own rows.
    """

    _MAX_KEYS = 10_000

    def __init__(self, every: float = 60.0) -> None:
        self._every = every
        self._lock = threading.Lock()
        # key -> (time of the last row, refusals folded since)
        self._seen: dict[tuple[str, str | None, str | None], tuple[float, int]] = {}

    def fold(
        self, now: float, kind: str, target: str | None, client: str | None, detail: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The detail of the row to write for this refusal, or ``None`` to write nothing."""
        key = (kind, target, client)
        with self._lock:
            if key not in self._seen and len(self._seen) >= self._MAX_KEYS:
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self._every}
                if len(self._seen) >= self._MAX_KEYS:
                    key = (kind, "*", "*")  # A flood from everywhere: one row per kind.
            last = self._seen.get(key)
            if last is not None and now - last[0] < self._every:
                self._seen[key] = (last[0], last[1] + 1)
                return None
            self._seen[key] = (now, 0)
        return {**detail, "repeated": last[1]} if last is not None and last[1] else detail


#: At most this many turns of the event loop before a batch leaves (a turn without a new row
#: ends the wait at once): more rows a batch, no timer, so no wait on an idle server.
_GATHER_TURNS = 4


class GroupCommit:
    """Audit rows of requests that write nothing else (a token issued from cached checks),
    committed together.

    :meth:`write` returns once its row is committed, so a request answers only after its
    audit row is durable, as if it had its own transaction. Rows that arrive while a batch
    is being written go into the next one: under load, one ``BEGIN``/``COMMIT`` (the main
    cost of a token request) serves many requests.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._connection: Connection | None = None
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._touches: list[tuple[Update, dict[str, Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        # A thread of its own (one batch at a time), not one of anyio's pool: see Lanes.
        self._writer = Lanes(1, "jot-audit")

    async def write(
        self, values: dict[str, Any], *, also: tuple[Update, dict[str, Any]] | None = None
    ) -> None:
        """Commit ``values`` (and the small update ``also``, a prebuilt statement and its
        values: an access key's ``last_used``, due once a minute per key) with the batch of
        concurrent requests."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((values, done))
        if also is not None:
            self._touches.append(also)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        batch: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        try:
            await self._gather()
            while self._pending:
                batch, self._pending = self._pending, []
                touches, self._touches = self._touches, []
                error: Exception | None = None
                try:
                    rows = [values for values, _ in batch]
                    await self._writer.run(functools.partial(self._insert, rows, touches))
                except Exception as exc:
                    error = exc
                for _, done in batch:
                    if done.done():  # Its request was cancelled; the row is written anyway.
                        continue
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
                batch = []
        finally:
            self._flusher = None
            # Cancelled (the loop is shutting down): nobody waits in vain.
            for _, done in batch + self._pending:
                done.cancel()
            self._pending, self._touches = [], []

    async def _gather(self) -> None:
        """Let the event loop run a few turns while they add rows: their requests join this
        batch. A batch that left at once often held one row, each costing a thread hand-off
        (and with two server processes, each process's batches are smaller still)."""
        for _ in range(_GATHER_TURNS):
            before = len(self._pending)
            await asyncio.sleep(0)
            if len(self._pending) == before:
                return

    def _insert(
        self, rows: list[dict[str, Any]], updates: Sequence[tuple[Update, dict[str, Any]]] = ()
    ) -> None:
        # Core only: an ORM session per batch cost more than the rows themselves. On SQLite
        # one connection is kept across batches (a pool checkout cost more too); one that
        # failed is dropped. PostgreSQL's go back to the pool, whose pre-ping replaces those
        # the server dropped (a restart) before a batch fails on one.
        with self._db.writer_turn():
            connection, self._connection = self._connection or self._db.writer(), None
            try:
                with connection.begin():
                    _INSERT.execute_many(connection, rows)
                    # One executemany per statement (the same prebuilt one, in practice).
                    by_statement: dict[Update, list[dict[str, Any]]] = {}
                    for update, values in updates:
                        by_statement.setdefault(update, []).append(values)
                    for update, many in by_statement.items():
                        connection.execute(update, many)
            except BaseException:
                connection.close()
                raise
            if self._db.is_sqlite:
                self._connection = connection
            else:
                connection.close()

    def close(self) -> None:
        self._writer.close()
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def query(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str | None = None,
    actor: str | None = None,
    limit: int = 100,
    before: int | None = None,
    after: int | None = None,
) -> list[AuditOut]:
    """Newest first; ``kind`` matches exactly or as a prefix ending in ``.`` (``login.``);
    ids below ``before`` and above ``after`` only (paging by id, never by offset)."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    if after is not None:
        stmt = stmt.where(AuditEvent.id > after)
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
    return [_out(row) for row in session.scalars(stmt)]


def _out(row: AuditEvent) -> AuditOut:
    return AuditOut(
        id=row.id,
        time=row.time,
        kind=row.kind,
        actor=row.actor,
        target=row.target,
        client=row.client,
        detail=json.loads(row.detail),
    )


def own(
    session: Session, name: str, since: datetime, *, limit: int, before: int | None = None
) -> list[AuditOut]:
    """The events of the identity ``name`` (created at ``since``): those it made (actor) and
    those made to it (target), newest first, below id ``before``; never a token issue.

    ``since`` keeps the events of an earlier identity of the same name out. Each side is one
    range of its partial index (the ``kind`` term repeats the indexes' own condition, which
    is what lets the planners use them), merged here.
    """
    found: dict[int, AuditEvent] = {}
    for side in ("actor", "target"):
        stmt = own_side(side, name, since, limit=limit, before=before)
        found.update((row.id, row) for row in session.scalars(stmt))
    return [_out(found[key]) for key in sorted(found, reverse=True)[:limit]]


def own_side(
    side: str, name: str, since: datetime, *, limit: int, before: int | None = None
) -> Select[AuditEvent]:
    """One side of :func:`own`: the events whose ``side`` (``actor``/``target``) is ``name``."""
    column = AuditEvent.actor if side == "actor" else AuditEvent.target
    stmt = (
        select(AuditEvent)
        .where(column == name, AuditEvent.kind != TOKEN_ISSUED, AuditEvent.time >= since)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return stmt if before is None else stmt.where(AuditEvent.id < before)
