"""kubeconfig downloads: a Kubernetes destination's cluster address

Revision ID: kc01
Revises: rv01
Create Date: 2026-12-05 06:10:00

Adds ``destinations.cluster_server`` (the API server or jot proxy URL kubectl talks to) and
``destinations.cluster_ca`` (the PEM of the CA that signed it); ``NULL`` for every existing
destination (not told).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "kc01"
down_revision = "rv01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cluster_server", sa.String(2048), nullable=True))
        batch_op.add_column(sa.Column("cluster_ca", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.drop_column("cluster_ca")
        batch_op.drop_column("cluster_server")
