"""grant and membership indexes for token decisions

Revision ID: gi01
Revises: rl01
Create Date: 2026-12-06 03:30:00

Adds ``(destination_id, identity_id)`` and ``(destination_id, group_id)`` indexes on
``grants``: a token decision reads one caller's grants on one destination, and without them
SQLite's planner read every grant of the destination (issue 14). The index of memberships by
identity becomes ``(identity_id, group_id)``, which answers "the groups of" on its own.
"""

from __future__ import annotations

from alembic import op

revision = "gi01"
down_revision = "rl01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_grants_destination_identity", "grants", ["destination_id", "identity_id"])
    op.create_index("ix_grants_destination_group", "grants", ["destination_id", "group_id"])
    op.create_index("ix_memberships_identity_group", "memberships", ["identity_id", "group_id"])
    op.drop_index("ix_memberships_identity_id", table_name="memberships")


def downgrade() -> None:
    op.create_index("ix_memberships_identity_id", "memberships", ["identity_id"])
    op.drop_index("ix_memberships_identity_group", table_name="memberships")
    op.drop_index("ix_grants_destination_group", table_name="grants")
    op.drop_index("ix_grants_destination_identity", table_name="grants")
