"""access requests and time-bound grants

Revision ID: ar01
Revises: op01
Create Date: 2026-12-06 01:40:00

Adds ``grants.expires`` (``NULL``: until removed, as every grant so far) and the
``access_requests`` table. Existing rows are untouched.

Down, time-bound grants are deleted, not kept without their end: the older code would hold
them for good (a rollback must not turn two hours of access into forever).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

import jot.authority.models

revision = "ar01"
down_revision = "op01"
branch_labels = None
depends_on = None

log = logging.getLogger("jot.authority.migrations")


def upgrade() -> None:
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires", jot.authority.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_grants_expires"), ["expires"], unique=False)
    op.create_table(
        "access_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("identity_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=253), nullable=False),
        sa.Column("resource", sa.String(length=300), nullable=False),
        sa.Column("destination_id", sa.String(length=32), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created", jot.authority.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires", jot.authority.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided", jot.authority.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=253), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("grant_id", sa.String(length=32), nullable=True),
        sa.Column("grant_expires", jot.authority.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'denied', 'cancelled', 'expired')",
            name=op.f("ck_access_requests_state"),
        ),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["destinations.id"],
            name=op.f("fk_access_requests_destination_id_destinations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_access_requests_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_requests")),
    )
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        for column in ("destination_id", "expires", "identity_id", "state"):
            batch_op.create_index(
                batch_op.f(f"ix_access_requests_{column}"), [column], unique=False
            )


def downgrade() -> None:
    op.drop_table("access_requests")
    # Amended after release (downgrade only, the schema is the same): it used to drop the
    # column and so make every time-bound grant permanent.
    dropped = op.get_bind().execute(sa.text("DELETE FROM grants WHERE expires IS NOT NULL"))
    if dropped.rowcount:
        log.warning(
            "migration: %d time-bound grants deleted (older jot cannot end them)", dropped.rowcount
        )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grants_expires"))
        batch_op.drop_column("expires")
