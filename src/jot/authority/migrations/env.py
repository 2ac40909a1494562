"""Alembic environment: runs on the connection that :func:`jot.authority.db.migrate` passes.

On SQLite, batch mode changes a table by copying it and dropping the old one; with foreign
keys on, that drop would cascade into every table that refers to it (an identity's keys,
grants and memberships). Foreign keys are therefore off while migrations run (the pragma
only takes effect outside a transaction) and are checked, then turned back on, after.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

# Imported for their tables: the OIDC login tables, the OpenID provider's and the web
# console's sessions.
import jot.authority.oidc.models
import jot.authority.openid.models
import jot.authority.web.models  # noqa: F401
from jot.authority.models import Base

config = context.config
target_metadata = Base.metadata
connection = config.attributes.get("connection")


def _sqlite_pragma(conn: Connection, pragma: str) -> list[tuple[object, ...]]:
    # Straight on the driver: through SQLAlchemy it would begin a transaction first.
    cursor = conn.connection.dbapi_connection.execute(f"PRAGMA {pragma}")  # type: ignore[union-attr]
    return list(cursor.fetchall())


def _run(conn: Connection) -> None:
    sqlite = conn.dialect.name == "sqlite" and not conn.in_transaction()
    if sqlite:
        _sqlite_pragma(conn, "foreign_keys=OFF")
    try:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            conn.commit()
            broken = _sqlite_pragma(conn, "foreign_key_check")
            if broken:
                raise RuntimeError(f"the migration left rows without their parents: {broken[:5]}")
    finally:
        if sqlite:
            _sqlite_pragma(conn, "foreign_keys=ON")


if connection is None:
    # `alembic revision --autogenerate` during development: the URL comes from the ini option.
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as conn:
        _run(conn)
else:
    _run(connection)
