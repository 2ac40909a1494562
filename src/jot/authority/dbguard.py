"""Bounded waits on PostgreSQL, a breaker for quick 503s, and one log line per outage.

- Every connection gets libpq's ``connect_timeout`` and a server-side ``statement_timeout``
  (settings ``database_connect_timeout``, ``database_statement_timeout``).
- Neither helps when the server stops answering altogether (a frozen host, a partition that
  drops packets): a statement already sent would wait forever, and so would its request. So
  every wait on a connection's socket is bounded too, at the statement timeout plus
  :data:`GRACE` (the server's own timeout, a clean error, comes first when it can); a
  connection that misses it is closed.
- After a failure of the connection itself (not of a statement), :class:`Guard` answers 503
  at once for ``retry_every`` seconds instead of making each request wait out the timeouts
  again; then one request probes, and the first success closes the breaker.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from jot._outage import OutageLog

__all__ = [
    "GRACE",
    "DatabaseUnavailable",
    "Guard",
    "bound_socket_waits",
    "postgres_connect_args",
    "unbounded",
]

log = logging.getLogger("jot.authority")

#: Seconds a socket wait may outlast the statement timeout before the connection is closed.
GRACE = 1.0


class DatabaseUnavailable(Exception):
    """The breaker is open: the database failed a moment ago (answered 503)."""


def postgres_connect_args(
    url: str, connect_timeout: int, statement_timeout: float
) -> dict[str, Any]:
    """libpq parameters for the timeouts; ``options`` the URL gives (a ``search_path`` …)
    are kept, since these replace the URL's."""
    given = make_url(url).query.get("options", "")
    options = " ".join(given) if isinstance(given, tuple) else given
    timeout = f"-c statement_timeout={max(1, round(statement_timeout * 1000))}"
    return {"connect_timeout": connect_timeout, "options": f"{options} {timeout}".strip()}


def bound_socket_waits(engine: Engine, statement_timeout: float) -> None:
    """Make ``engine`` open psycopg connections whose every socket wait is bounded."""
    import psycopg
    from psycopg import errors

    limit = statement_timeout + GRACE

    class BoundedConnection(psycopg.Connection[Any]):
        #: ``None`` for no bound (migrations, which may wait for another replica's).
        jot_limit: float | None = limit

        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            try:
                return super().wait(gen, interval, self.jot_limit if timeout is None else timeout)
            # psycopg's own Ctrl-C handling uses its private timeout error the same way; the
            # connection is then in an unknown state, so it is closed.
            except errors._WaitTimeout:
                self.pgconn.finish()
                raise psycopg.OperationalError(
                    f"the database did not answer within {limit:g} s (connection closed)"
                ) from None

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        return BoundedConnection.connect(*cargs, **cparams)


@contextlib.contextmanager
def unbounded(conn: Connection) -> Iterator[None]:
    """No statement timeout nor socket bound on ``conn`` (PostgreSQL), for migrations; the
    connection is dropped afterwards rather than given back with its limits lifted."""
    raw = conn.connection.dbapi_connection
    if not hasattr(raw, "jot_limit"):
        yield
        return
    conn.execute(text("SET statement_timeout = 0"))
    raw.jot_limit = None  # type: ignore[union-attr]
    try:
        yield
    finally:
        conn.invalidate()


def _connection_failed(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached (not that a statement failed:
    errors that the server reported carry an SQLSTATE)."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or getattr(exc.orig, "sqlstate", None) is None


class Guard:
    """The breaker and the outage log of one engine (PostgreSQL; SQLite needs neither)."""

    def __init__(
        self,
        *,
        enabled: bool,
        retry_every: float = 1.0,
        probe_budget: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.outage = OutageLog(log, "database", clock=clock)
        self._retry_every, self._probe_budget, self._clock = retry_every, probe_budget, clock
        self._open = False
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def before(self) -> None:
        """Raise :class:`DatabaseUnavailable` while the breaker is open (one probe passes)."""
        if not self._open:
            return
        now = self._clock()
        with self._lock:
            if now < self._retry_at:
                raise DatabaseUnavailable("the database is unavailable")
            # This request probes; the others keep failing fast until it has its answer.
            self._retry_at = now + self._probe_budget

    def failed(self, exc: BaseException) -> None:
        # Seen once: the error handler hands on what a transaction already noted.
        if not _connection_failed(exc) or getattr(exc, "_jot_noted", False):
            return
        exc._jot_noted = True  # type: ignore[attr-defined]
        self.outage.failed(exc)
        if self.enabled:
            with self._lock:
                self._open = True
                self._retry_at = self._clock() + self._retry_every

    def succeeded(self) -> None:
        if self._open:
            with self._lock:
                self._open = False
        self.outage.ok()

    @contextlib.contextmanager
    def watch(self) -> Iterator[None]:
        """Around one use of the database: the breaker before, the verdict after."""
        self.before()
        try:
            yield
        except BaseException as exc:
            self.failed(exc)
            raise
        self.succeeded()
