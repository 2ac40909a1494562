"""The Alembic migrations create exactly the schema the models describe, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from jot.authority.db import Database, migrate
from jot.authority.models import Base


def test_migrations_match_the_models(db_url: str) -> None:
    db = Database(db_url)
    migrate(db)
    migrate(db)  # Idempotent: a second start finds nothing to do.
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    db.dispose()
    assert differences == []
