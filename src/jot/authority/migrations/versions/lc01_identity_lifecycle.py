"""identity lifecycle: grants by id, case-insensitive names, key lineage, connector scope

Revision ID: lc01
Revises: oidc01
Create Date: 2026-12-04 22:15:50.615896

What it does to the rows, and what it reports (each as an audit record and a warning in the
server's log, so an operator sees it at the first start and can find it later with
``jot audit --kind migration.``):

- grants name their subject by id: ``user:NAME``/``group:NAME`` becomes the id of the identity
  or group called exactly NAME. A grant whose NAME no longer exists (its holder was renamed by
  a provider) is deleted, not kept for the next holder of the name
  (``migration.grant_dropped``);
- a ``connector`` grant on ``jot`` (read every destination's grants) becomes one on
  ``jot.<destination>`` for each destination there is — it no longer reads ``jot``'s own
  grants (who is admin); drop the ones a connector does not serve
  (``migration.connector_grant_scoped``);
- names of identities and groups become case-insensitive. Names that differ only in case are
  never merged: the oldest keeps its name, each other one is renamed to
  ``collision-<id>:<name>`` and keeps its own grants, groups and keys
  (``migration.name_collision``); rename or remove it after checking who it is.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

import jot.authority.models

revision = "lc01"
down_revision = "oidc01"
branch_labels = None
depends_on = None

log = logging.getLogger("jot.authority.migrations")

_TIME = jot.authority.models.UTCDateTime()
_identities = sa.table(
    "identities", sa.column("id"), sa.column("name"), sa.column("name_key"), sa.column("created")
)
_groups = sa.table(
    "groups", sa.column("id"), sa.column("name"), sa.column("name_key"), sa.column("created")
)
_grants = sa.table(
    "grants",
    sa.column("id"),
    sa.column("subject"),
    sa.column("identity_id"),
    sa.column("group_id"),
    sa.column("role"),
    sa.column("resource"),
    sa.column("destination_id"),
    sa.column("created", _TIME),
)
_destinations = sa.table("destinations", sa.column("id"), sa.column("name"))
_audit = sa.table(
    "audit",
    sa.column("time", _TIME),
    sa.column("kind"),
    sa.column("actor"),
    sa.column("target"),
    sa.column("client"),
    sa.column("detail"),
)


def _report(bind: Connection, kind: str, target: str, message: str, **detail: Any) -> None:
    log.warning("migration: %s", message)
    bind.execute(
        _audit.insert().values(
            time=datetime.now(UTC),
            kind=kind,
            actor=None,
            target=target[:300],
            client=None,
            detail=json.dumps({"message": message, **detail}, sort_keys=True),
        )
    )


def _bind_grants(bind: Connection) -> None:
    """``user:NAME``/``group:NAME`` → the id of what is called exactly NAME now."""
    users = dict(bind.execute(sa.select(_identities.c.name, _identities.c.id)).all())
    groups = dict(bind.execute(sa.select(_groups.c.name, _groups.c.id)).all())
    rows = bind.execute(
        sa.select(_grants.c.id, _grants.c.subject, _grants.c.role, _grants.c.resource)
    ).all()
    for row in rows:
        kind, _, name = row.subject.partition(":")
        found = users.get(name) if kind == "user" else groups.get(name)
        column = "identity_id" if kind == "user" else "group_id"
        if kind in ("user", "group") and found is not None:
            bind.execute(_grants.update().where(_grants.c.id == row.id).values({column: found}))
            continue
        bind.execute(_grants.delete().where(_grants.c.id == row.id))
        _report(
            bind,
            "migration.grant_dropped",
            row.subject,
            f"grant {row.role} on {row.resource} to {row.subject} deleted: nobody has that "
            "name now, and it must not pass to whoever gets it next",
            role=row.role,
            resource=row.resource,
        )


def _scope_connectors(bind: Connection) -> None:
    """``connector`` on ``jot`` → ``connector`` on ``jot.<d>`` for every destination ``d``."""
    jot_id = bind.scalar(sa.select(_destinations.c.id).where(_destinations.c.name == "jot"))
    others = list(
        bind.scalars(
            sa.select(_destinations.c.name)
            .where(_destinations.c.name != "jot")
            .order_by(_destinations.c.name)
        )
    )
    wide = bind.execute(
        sa.select(_grants).where(_grants.c.role == "connector", _grants.c.resource == "jot")
    ).all()
    for grant in wide:
        same_subject = sa.and_(
            _grants.c.identity_id == grant.identity_id
            if grant.identity_id is not None
            else _grants.c.group_id == grant.group_id,
            _grants.c.role == "connector",
        )
        held = set(bind.scalars(sa.select(_grants.c.resource).where(same_subject)))
        for name in others:
            if f"jot.{name}" not in held:
                bind.execute(
                    _grants.insert().values(
                        id=secrets.token_hex(16),
                        subject=grant.subject,
                        identity_id=grant.identity_id,
                        group_id=grant.group_id,
                        role="connector",
                        resource=f"jot.{name}",
                        destination_id=jot_id,
                        created=grant.created,
                    )
                )
        bind.execute(_grants.delete().where(_grants.c.id == grant.id))
        _report(
            bind,
            "migration.connector_grant_scoped",
            grant.subject,
            f"{grant.subject}: connector on jot now reads only the destinations named by "
            f"its grants jot.<destination> ({', '.join(others) or 'none yet'}); remove "
            "those it does not serve",
            destinations=others,
        )


def _fold_names(bind: Connection, table: sa.TableClause, what: str) -> None:
    """Fill ``name_key``; names equal but for case are reported and kept apart."""
    rows = bind.execute(
        sa.select(table.c.id, table.c.name).order_by(table.c.created, table.c.id)
    ).all()
    same: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        same[row.name.lower()].append(row)
    for key, found in same.items():
        keeper, *others = found  # The oldest keeps its name.
        bind.execute(table.update().where(table.c.id == keeper.id).values(name_key=key))
        renamed = []
        for row in others:
            name = f"collision-{row.id}:{row.name}"[:253]
            bind.execute(
                table.update().where(table.c.id == row.id).values(name=name, name_key=name.lower())
            )
            renamed.append({"id": row.id, "old": row.name, "new": name})
        if renamed:
            _report(
                bind,
                "migration.name_collision",
                keeper.name,
                f"{what} names are case-insensitive now: {keeper.name} keeps its name; "
                + ", ".join(f"{r['old']} is renamed {r['new']}" for r in renamed)
                + " (nothing was merged: rename or remove them)",
                table=what,
                kept={"id": keeper.id, "name": keeper.name},
                renamed=renamed,
            )


def upgrade() -> None:
    with op.batch_alter_table("access_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("origin_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_access_keys_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_access_keys_parent_id_access_keys"),
            "access_keys",
            ["parent_id"],
            ["id"],
            ondelete="CASCADE",
        )
    for name in ("identities", "groups"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("name_key", sa.String(length=253), nullable=True))
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("group_id", sa.String(length=32), nullable=True))

    bind = op.get_bind()
    _bind_grants(bind)
    _scope_connectors(bind)
    _fold_names(bind, _identities, "identity")
    _fold_names(bind, _groups, "group")

    for name in ("identities", "groups"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.alter_column("name_key", existing_type=sa.String(length=253), nullable=False)
            batch_op.drop_constraint(batch_op.f(f"uq_{name}_name"), type_="unique")
            batch_op.create_unique_constraint(batch_op.f(f"uq_{name}_name_key"), ["name_key"])
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grants_subject"))
        batch_op.drop_constraint(batch_op.f("uq_grants_subject"), type_="unique")
        batch_op.drop_column("subject")
        batch_op.create_unique_constraint(
            batch_op.f("uq_grants_group_id"), ["group_id", "role", "resource"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_grants_identity_id"), ["identity_id", "role", "resource"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_grants_group_id_groups"),
            "groups",
            ["group_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_grants_identity_id_identities"),
            "identities",
            ["identity_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(
            "ck_grants_one_subject", "(identity_id IS NULL) <> (group_id IS NULL)"
        )
    with op.batch_alter_table("oidc_providers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verifies_email", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("oidc_providers", schema=None) as batch_op:
        batch_op.alter_column("verifies_email", existing_type=sa.Boolean(), server_default=None)


def downgrade() -> None:
    """Back to names in grants (their subjects' current names); collision renames and the
    scoped connector grants stay as they are."""
    with op.batch_alter_table("oidc_providers", schema=None) as batch_op:
        batch_op.drop_column("verifies_email")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=300), nullable=True))
    bind = op.get_bind()
    for table, column, kind in (
        (_identities, _grants.c.identity_id, "user"),
        (_groups, _grants.c.group_id, "group"),
    ):
        current = sa.select(table.c.name).where(table.c.id == column).scalar_subquery()
        subject = sa.literal(f"{kind}:").op("||")(current)
        bind.execute(_grants.update().where(column.is_not(None)).values(subject=subject))
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_constraint("ck_grants_one_subject", type_="check")
        batch_op.drop_constraint(batch_op.f("fk_grants_identity_id_identities"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_grants_group_id_groups"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_grants_identity_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_grants_group_id"), type_="unique")
        batch_op.alter_column("subject", existing_type=sa.String(length=300), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_grants_subject"), ["subject", "role", "resource"]
        )
        batch_op.create_index(batch_op.f("ix_grants_subject"), ["subject"], unique=False)
        batch_op.drop_column("group_id")
        batch_op.drop_column("identity_id")
    for name in ("identities", "groups"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"uq_{name}_name_key"), type_="unique")
            batch_op.create_unique_constraint(batch_op.f(f"uq_{name}_name"), ["name"])
            batch_op.drop_column("name_key")
    with op.batch_alter_table("access_keys", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_access_keys_parent_id_access_keys"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_access_keys_parent_id"))
        batch_op.drop_column("origin_id")
        batch_op.drop_column("parent_id")
