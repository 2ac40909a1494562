"""Core statements compiled once and run straight on the driver: the token path's reads, and
the audit rows of issued tokens.

SQLAlchemy's execute path (parameter set-up, result metadata, events) costs ~30 µs a
statement, several times what SQLite itself spends on a small indexed read: on a token
request that misses the caches (six such reads), it was most of the request. A
:class:`Prepared` statement keeps SQLAlchemy for what it is good at (building the SQL, the
column types' conversions, the dialect) and does the per-call work itself: the SQL is
compiled once per dialect, the values are converted by the columns' own bind and result
processors, and the driver's statement cache (SQLite) or server-side prepare (psycopg)
reuses the plan. Errors come out as SQLAlchemy's, so the database guard and the error
handlers see what they always saw.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import CompoundSelect, Insert, Select

#: A select of any shape (its typed rows become plain tuples here), or an insert.
_Statement = Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]] | Insert

__all__ = ["Prepared", "Reads", "dialect_name"]

#: Where prepared statements run: an ORM session's transaction, or a Core connection's.
Reads = Session | Connection

_Processor = Callable[[Any], Any] | None


def dialect_name(on: Reads) -> str:
    """The database kind (``sqlite``, ``postgresql``) that ``on`` reads."""
    connection = on.connection() if isinstance(on, Session) else on
    return connection.dialect.name


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: Bind names in the order the driver takes them (positional), or ``None`` (named).
    order: tuple[str, ...] | None
    #: Per bind name: the default (bound in the statement, as ``LIMIT 1``) or ``None``.
    defaults: Mapping[str, Any]
    binds: Mapping[str, _Processor]
    results: tuple[_Processor, ...]


def _compile(statement: _Statement, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    defaults: dict[str, Any] = {}
    binds: dict[str, _Processor] = {}
    for bind, name in compiled.bind_names.items():
        binds[name] = bind.type._cached_bind_processor(dialect)
        if not bind.required:
            defaults[name] = bind.effective_value
    results = tuple(
        entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns
    )
    order = tuple(compiled.positiontup or ()) if dialect.positional else None
    return _Compiled(compiled.string, order, defaults, binds, results)


def _arguments(compiled: _Compiled, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
    """The driver's arguments for ``params`` (by bind name), converted by the binds' types."""
    values = {**compiled.defaults, **params}
    for name, process in compiled.binds.items():
        if process is not None:
            values[name] = process(values[name])
    return values if compiled.order is None else [values[name] for name in compiled.order]


class Prepared:
    """A select run on a session's connection: :meth:`rows` are plain tuples, converted as
    SQLAlchemy converts them (timezone-aware datetimes …)."""

    def __init__(self, statement: _Statement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.setdefault(
                    dialect.name, _compile(self.statement, dialect)
                )
        return compiled

    def rows(self, on: Reads, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row for ``params`` (by bind name), in the transaction of ``on``."""
        compiled, fetched = self._run(on, [params], many=False)
        if not any(compiled.results):
            return list(fetched)
        processors = compiled.results
        return [
            tuple(
                v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True)
            )
            for row in fetched
        ]

    def execute_many(self, on: Reads, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement (an insert) once for each of ``rows``, in one driver call."""
        self._run(on, rows, many=True)

    def _run(
        self, on: Reads, rows: Sequence[Mapping[str, Any]], *, many: bool
    ) -> tuple[_Compiled, list[Any]]:
        connection = on.connection() if isinstance(on, Session) else on
        dialect = connection.dialect
        compiled = self._for(dialect)
        args = [_arguments(compiled, params) for params in rows]
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            if many:
                cursor.executemany(compiled.sql, args)  # type: ignore[arg-type]
                return compiled, []
            cursor.execute(compiled.sql, args[0])
            return compiled, list(cursor.fetchall())
        except dialect.loaded_dbapi.Error as exc:
            gone = dialect.is_disconnect(exc, raw, cursor)
            if gone:
                connection.invalidate(exc)
            raise DBAPIError.instance(
                compiled.sql,
                args if many else args[0],
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=gone,
                dialect=dialect,
            ) from exc
        finally:
            cursor.close()

    def first(self, on: Reads, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row, or ``None``."""
        rows = self.rows(on, params)
        return rows[0] if rows else None
