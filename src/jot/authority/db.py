"""Engines, transactions and migrations, the same on SQLite and PostgreSQL.

SQLite runs in WAL mode with a busy timeout; transactions that write start with
``BEGIN IMMEDIATE`` so that two writers queue instead of failing on a lock upgrade. PostgreSQL
uses ``postgresql+psycopg://`` URLs. Migrations are Alembic's, shipped inside this package.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from jot.authority.dbguard import Guard, bound_socket_waits, postgres_connect_args, unbounded
from jot.authority.settings import Settings

__all__ = ["Database", "advisory_lock", "migrate", "open_database"]

# An arbitrary constant that names jot's advisory lock on PostgreSQL.
_LOCK_BASE = 0x6A6F74


class Database:
    """One engine and the two kinds of transactions: read-only and writing."""

    def __init__(
        self,
        url: str,
        *,
        synchronous: str = "FULL",
        pool_size: int = 20,
        connect_timeout: int = 5,
        statement_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.guard = Guard(enabled=not self.is_sqlite)
        # Enough connections for every request thread (anyio's pool has 40) plus the short
        # side transactions some requests open, so that no thread waits on the pool while
        # holding a connection another thread needs.
        pool: dict[str, Any] = {"pool_size": pool_size, "max_overflow": pool_size + 10}
        pool["pool_timeout"] = 60 if self.is_sqlite else connect_timeout + statement_timeout
        if self.is_sqlite:
            _ensure_sqlite_dir(url)
            self.engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
            )
            _install_sqlite_hooks(self.engine, synchronous)
        else:
            # Bounded waits (jot.authority.dbguard): a hung server costs a request seconds.
            self.engine = create_engine(
                url, pool_pre_ping=True,
                connect_args=postgres_connect_args(url, connect_timeout, statement_timeout), **pool,
            )  # fmt: skip
            bound_socket_waits(self.engine, statement_timeout)
        # SQLite has one writer; queueing writers on a lock here wakes them at once, where
        # SQLite's own busy handler would make them sleep and poll.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = self.engine.execution_options(jot_write=True)
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)
        # The connections of :meth:`reading`, one per thread, and all of them (to close).
        self._kept = threading.local()
        self._all_kept: set[Connection] = set()

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        if not write:
            with self.guard.watch(), self._sessions() as session, session.begin():
                yield session
            return
        with (
            self.guard.watch(),
            self.writer_turn(),
            self._write_sessions() as session,
            session.begin(),
        ):
            yield session

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction on a Core connection, for the few threads of token checks
        (:mod:`jot.authority.lanes`): an ORM session's set-up and commit cost a check ~45 µs,
        more than its reads. On SQLite the thread keeps its connection (the pool's check-out
        and check-in cost ~28 µs more; a file does not drop connections): one that failed is
        dropped, the next transaction opens a new one. PostgreSQL's come from the pool, whose
        pre-ping replaces those the server dropped (a restart) before anyone sees them."""
        with self.guard.watch():
            if not self.is_sqlite:
                with self.engine.connect() as pooled, pooled.begin():
                    yield pooled
                return
            connection: Connection | None = getattr(self._kept, "connection", None)
            if connection is None or connection.closed or connection.invalidated:
                connection = self._kept.connection = self.engine.connect()
                self._all_kept.add(connection)
            try:
                with connection.begin():
                    yield connection
            except DBAPIError:
                self._kept.connection = None
                self._all_kept.discard(connection)
                connection.close()
                raise

    @contextlib.contextmanager
    def writer_turn(self) -> Iterator[None]:
        """Wait for this process's turn to write (SQLite has one writer; no-op otherwise)."""
        if self._write_lock is None:
            yield
            return
        with self._write_lock:
            yield

    def writer(self) -> Connection:
        """A Core connection whose transactions write (``BEGIN IMMEDIATE`` on SQLite), for a
        caller that keeps it; take :meth:`writer_turn` around each transaction."""
        with self.guard.watch():
            return self._writer.connect()

    def ping(self) -> None:
        with self.guard.watch(), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        for connection in list(self._all_kept):
            connection.close()
        self._all_kept.clear()
        self.engine.dispose()


def open_database(settings: Settings, *, pool_size: int = 20) -> Database:
    """The database the settings name, with their timeouts."""
    return Database(
        settings.sqlalchemy_url,
        synchronous=settings.sqlite_synchronous,
        pool_size=pool_size,
        connect_timeout=settings.database_connect_timeout,
        statement_timeout=settings.database_statement_timeout,
    )


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _private_database_file(Path(path))


def _private_database_file(path: Path) -> None:
    """The database (which holds sealed keys and key hashes) is the owner's alone, whatever
    the directory's mode: created 0600 before SQLite opens it, which gives its ``-wal`` and
    ``-shm`` files the same mode; an existing file that others may read is tightened."""
    # Opened only when missing: closing a descriptor of a file that SQLite has open in this
    # process would drop SQLite's POSIX locks on it.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            if name.stat().st_mode & 0o077:
                name.chmod(0o600)


def _install_sqlite_hooks(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below own the transactions, not the driver.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(_WRITE_WAIT * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        # Straight on the driver: SQLAlchemy's statement machinery (events, result set-up)
        # costs several times the BEGIN itself, on every transaction.
        write = conn.get_execution_options().get("jot_write", False)
        try:
            if write:
                _begin_immediate(raw)
            else:
                raw.execute("BEGIN")  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            # SQLAlchemy runs this hook outside its error handling: wrap the driver's error as
            # it would, so that a lock held past the wait answers 503, not 500.
            statement = "BEGIN IMMEDIATE" if write else "BEGIN"
            raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


#: How long a writer waits for SQLite's write lock (the connections' busy timeout too).
_WRITE_WAIT = 30.0


def _begin_immediate(raw: Any) -> None:
    """``BEGIN IMMEDIATE``, waiting for the write lock in short naps. SQLite's own busy
    handler sleeps 1, 2, 5, 10 … ms between tries: with two server processes on one database,
    whose writes (a batch of audit rows) take ~0.1 ms, each meeting cost the loser a
    millisecond or more, and its whole batch of requests with it."""
    raw.execute("PRAGMA busy_timeout=0")
    try:
        deadline, nap = time.monotonic() + _WRITE_WAIT, 0.00005
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(nap)
            nap = min(nap * 2, 0.002)
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(_WRITE_WAIT * 1000)}")


def advisory_lock(session: Session, name: int) -> None:
    """Serialise a critical section across processes until the transaction ends.

    PostgreSQL takes a transaction-level advisory lock; SQLite already holds its database
    write lock because writing transactions begin with ``BEGIN IMMEDIATE``.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_BASE + name})


def migrate(database: Database) -> None:
    """Bring the schema to the newest Alembic revision (safe to run concurrently)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "jot.authority:migrations")
    # A migration may take long, and so may waiting for another replica's (no timeouts).
    with database.engine.connect() as conn, unbounded(conn):
        if not database.is_sqlite:
            # Two replicas starting together must not both create the tables.
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_BASE})
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()
        finally:
            if not database.is_sqlite:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_BASE})
                conn.commit()
