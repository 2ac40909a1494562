"""rate-limit locks that outlive Redis: limit_locks

Revision ID: rl01
Revises: se01
Create Date: 2026-12-06 03:00:00

Adds ``limit_locks`` (key, until): the locks of the password, user-code and access-key
limits, which Redis only caches (issue 13: a restart of Redis must not lift a lockout).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rl01"
down_revision = "se01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limit_locks",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_limit_locks")),
    )


def downgrade() -> None:
    op.drop_table("limit_locks")
