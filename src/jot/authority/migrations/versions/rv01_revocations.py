"""revocations: deny entries pushed to destinations

Revision ID: rv01
Revises: gi01
Create Date: 2026-12-06 03:10:00

Adds the ``revocations`` table (subjects and tokens refused everywhere until their last
token has expired). Nothing else changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import jot.authority.models

revision = "rv01"
down_revision = "gi01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revocations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("until", jot.authority.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created", jot.authority.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=253), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('subject', 'token')", name=op.f("ck_revocations_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocations")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_revocations_kind")),
    )
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revocations_until"), ["until"], unique=False)


def downgrade() -> None:
    op.drop_table("revocations")
