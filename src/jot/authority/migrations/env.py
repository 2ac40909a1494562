"""Alembic environment: runs on the connection that :func:`jot.authority.db.migrate` passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import jot.authority.oidc.models  # noqa: F401  (registers the OIDC tables)
from jot.authority.models import Base

config = context.config
target_metadata = Base.metadata
connection = config.attributes.get("connection")

if connection is None:
    # `alembic revision --autogenerate` during development: the URL comes from the ini option.
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
