"""revisions advanced by triggers: every change of a membership or a grant moves one

Revision ID: gm01
Revises: au01
Create Date: 2026-12-05 16:00:00

Adds the ``memberships`` row to ``revisions`` and triggers that advance it in the transaction
of every insert, update or delete on ``memberships``, and the ``grants`` row on ``grants``
(which jot's own writers also advance, with the deny entries and destinations that ride on
it), whoever makes the change: the API, a login provider's sync, the cascade of a deleted
group, identity or destination, a script. Key checks keep an identity's groups by the first
and token decisions a small destination's group grants by the second
(``jot.authority.authcache.AtRevision``): a kept answer is never stale.

SQLite drops a table's triggers with the table: a later migration that rebuilds
``memberships`` or ``grants`` (``batch_alter_table``) must create them again
(tests/authority/test_member_groups.py and test_group_grants.py fail until it does).
"""

from __future__ import annotations

from alembic import op

revision = "gm01"
down_revision = "au01"
branch_labels = None
depends_on = None

#: The tables whose every change advances the revision of the same name.
_TABLES = ("memberships", "grants")
_SQLITE_EVENTS = ("insert", "update", "delete")


def _bump(table: str) -> str:
    return (  # Names from _TABLES only.
        f"INSERT INTO revisions (name, value) VALUES ('{table}', 1) "  # noqa: S608
        "ON CONFLICT (name) DO UPDATE SET value = revisions.value + 1"
    )


def upgrade() -> None:
    # The grants row exists once a grant changed; the memberships row from here on.
    op.execute(
        "INSERT INTO revisions (name, value) VALUES ('memberships', 1) "
        "ON CONFLICT (name) DO NOTHING"
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in _TABLES:
        if sqlite:  # Row triggers only.
            for event in _SQLITE_EVENTS:
                op.execute(
                    f"CREATE TRIGGER {table}_revision_{event} AFTER {event.upper()} "
                    f"ON {table} FOR EACH ROW BEGIN {_bump(table)}; END"
                )
            continue
        # The function finds ``revisions`` where jot's tables are (the search_path of this
        # migration), not by the search_path of whoever changes a row: a script that names
        # jot's schema but searches another must move jot's revision, not fail or move
        # another's.
        op.execute(
            f"CREATE FUNCTION {table}_revision() RETURNS trigger LANGUAGE plpgsql "
            f"SET search_path FROM CURRENT AS $$ BEGIN {_bump(table)}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_revision AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_revision()"
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in _TABLES:
        if sqlite:
            for event in _SQLITE_EVENTS:
                op.execute(f"DROP TRIGGER {table}_revision_{event}")
        else:
            op.execute(f"DROP TRIGGER {table}_revision ON {table}")
            op.execute(f"DROP FUNCTION {table}_revision()")
    op.execute("DELETE FROM revisions WHERE name = 'memberships'")
