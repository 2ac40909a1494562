"""one's own audit events: the audit log by actor and by target

Revision ID: au01
Revises: kc01
Create Date: 2026-12-05 06:20:00

Two partial indexes, ``(actor, id)`` and ``(target, id)``, over every event but
``token.issued``: "My access" reads one identity's recent events by them, and the token path
(one ``token.issued`` row per token) maintains neither.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "au01"
down_revision = "kc01"
branch_labels = None
depends_on = None

_NOT_TOKENS = sa.text("kind <> 'token.issued'")


def upgrade() -> None:
    for name, column in (("ix_audit_actor_id", "actor"), ("ix_audit_target_id", "target")):
        op.create_index(
            name, "audit", [column, "id"], sqlite_where=_NOT_TOKENS, postgresql_where=_NOT_TOKENS
        )


def downgrade() -> None:
    op.drop_index("ix_audit_target_id", table_name="audit")
    op.drop_index("ix_audit_actor_id", table_name="audit")
