"""sealed tokens: a destination's public encryption key

Revision ID: se01
Revises: web01
Create Date: 2026-12-06 02:40:00

Adds ``destinations.encryption_key`` (a public JWK, ``NULL``: tokens are signed only, as
every token so far).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "se01"
down_revision = "web01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("encryption_key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.drop_column("encryption_key")
