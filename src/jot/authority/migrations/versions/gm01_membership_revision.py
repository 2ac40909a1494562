"""memberships revision: a counter that every change of a membership advances

Revision ID: gm01
Revises: au01
Create Date: 2026-12-05 16:00:00

Adds the ``memberships`` row to ``revisions`` and triggers that advance it in the transaction
of every insert, update or delete on ``memberships``, whoever makes it (the API, a login
provider's sync, the cascade of a deleted group or identity, a script). Key checks keep an
identity's groups by it (``jot.authority.access.group_names``): a kept answer is never stale.

SQLite drops a table's triggers with the table: a later migration that rebuilds
``memberships`` (``batch_alter_table``) must create them again
(tests/authority/test_member_groups.py fails until it does).
"""

from __future__ import annotations

from alembic import op

revision = "gm01"
down_revision = "au01"
branch_labels = None
depends_on = None

_BUMP = (
    "INSERT INTO revisions (name, value) VALUES ('memberships', 1) "
    "ON CONFLICT (name) DO UPDATE SET value = revisions.value + 1"
)
_SQLITE_EVENTS = ("insert", "update", "delete")


def upgrade() -> None:
    op.execute("INSERT INTO revisions (name, value) VALUES ('memberships', 1)")
    if op.get_bind().dialect.name == "sqlite":  # Row triggers only.
        for event in _SQLITE_EVENTS:
            op.execute(
                f"CREATE TRIGGER memberships_revision_{event} AFTER {event.upper()} "
                f"ON memberships FOR EACH ROW BEGIN {_BUMP}; END"
            )
        return
    op.execute(
        "CREATE FUNCTION memberships_revision() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER memberships_revision AFTER INSERT OR UPDATE OR DELETE ON memberships "
        "FOR EACH STATEMENT EXECUTE FUNCTION memberships_revision()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in _SQLITE_EVENTS:
            op.execute(f"DROP TRIGGER memberships_revision_{event}")
    else:
        op.execute("DROP TRIGGER memberships_revision ON memberships")
        op.execute("DROP FUNCTION memberships_revision()")
    op.execute("DELETE FROM revisions WHERE name = 'memberships'")
