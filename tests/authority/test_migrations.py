"""The Alembic migrations create exactly the schema the models describe, on both engines, and
carry the rows of an older schema over (or report what they cannot)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from jot.authority.db import Database, migrate
from jot.authority.models import Base


def test_migrations_match_the_models(db_url: str) -> None:
    db = Database(db_url)
    migrate(db)
    migrate(db)  # Idempotent: a second start finds nothing to do.
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    db.dispose()
    assert differences == []


def _alembic(db: Database, target: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", "jot.authority:migrations")
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, target)
        conn.commit()


_T = datetime(2026, 1, 1, tzinfo=UTC)

# The rows of an installation before lc01: grants by name, names that differ only in case.
_BEFORE = {
    "identities": [
        ("i-admin", "admin", "user", _T),
        ("i-bob-old", "BOB@Example.com", "user", _T),  # The older of two spellings.
        ("i-bob-new", "bob@example.com", "user", _T.replace(month=2)),
        ("i-conn", "web-connector", "machine", _T),
    ],
    "groups": [("g-ops", "Ops", _T), ("g-ops2", "ops", _T.replace(month=3))],
    "destinations": [("d-jot", "jot"), ("d-web", "web"), ("d-db", "db")],
    "grants": [
        ("gr-admin", "user:admin", "admin", "jot", "d-jot"),
        ("gr-bob", "user:bob@example.com", "viewer", "web", "d-web"),
        ("gr-ops", "group:ops", "viewer", "db", "d-db"),
        ("gr-gone", "user:carol@example.com", "admin", "web", "d-web"),  # Renamed away.
        ("gr-conn", "user:web-connector", "connector", "jot", "d-jot"),
    ],
}


def _insert_old_rows(db: Database) -> None:
    with db.engine.begin() as conn:
        for id_, name, kind, created in _BEFORE["identities"]:
            conn.execute(
                text(
                    "INSERT INTO identities (id, name, kind, password_hash, created, updated) "
                    "VALUES (:id, :name, :kind, NULL, :c, :c)"
                ),
                {"id": id_, "name": name, "kind": kind, "c": created},
            )
        for id_, name, created in _BEFORE["groups"]:
            conn.execute(
                text("INSERT INTO groups (id, name, created) VALUES (:id, :name, :c)"),
                {"id": id_, "name": name, "c": created},
            )
        for id_, name in _BEFORE["destinations"]:
            conn.execute(
                text(
                    "INSERT INTO destinations (id, name, kind, lifetime, group_narrowing, "
                    "created, updated) VALUES (:id, :name, 'http', 300, 'all', :c, :c)"
                ),
                {"id": id_, "name": name, "c": _T},
            )
        for id_, subject, role, resource, destination in _BEFORE["grants"]:
            conn.execute(
                text(
                    "INSERT INTO grants (id, subject, role, resource, destination_id, created) "
                    "VALUES (:id, :s, :r, :res, :d, :c)"
                ),
                {"id": id_, "s": subject, "r": role, "res": resource, "d": destination, "c": _T},
            )
        conn.execute(
            text(
                "INSERT INTO access_keys (id, identity_id, name, secret_hash, created, "
                "last_used) VALUES ('k-bob', 'i-bob-old', 'login', 'x', :c, :c)"
            ),
            {"c": _T},
        )
        conn.execute(text("INSERT INTO memberships VALUES ('g-ops2', 'i-bob-new')"))


def test_lc01_moves_grants_to_ids_and_reports_what_it_cannot_carry(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(db_url)
    _alembic(db, "oidc01")
    _insert_old_rows(db)
    with caplog.at_level(logging.WARNING, "jot.authority.migrations"):
        migrate(db)
    # The operator sees it at the start, in the server's log, not only in the audit log.
    assert any("BOB@Example.com keeps its name" in r.getMessage() for r in caplog.records)
    with db.engine.connect() as conn:
        identities = dict(conn.execute(text("SELECT id, name FROM identities")).all())
        groups = dict(conn.execute(text("SELECT id, name FROM groups")).all())
        grants = {
            (row.identity_id, row.group_id, row.role, row.resource)
            for row in conn.execute(text("SELECT * FROM grants"))
        }
        events = [
            (row.kind, row.target, json.loads(row.detail))
            for row in conn.execute(text("SELECT * FROM audit ORDER BY id"))
        ]
        keys = conn.execute(text("SELECT identity_id FROM access_keys")).scalars().all()
        members = conn.execute(text("SELECT group_id, identity_id FROM memberships")).all()
    db.dispose()

    # Nothing merged: the newer spelling is renamed and keeps its own grant and membership.
    assert identities["i-bob-old"] == "BOB@Example.com"
    assert identities["i-bob-new"] == "collision-i-bob-new:bob@example.com"
    assert groups["g-ops"] == "Ops"
    assert groups["g-ops2"] == "collision-g-ops2:ops"
    assert keys == ["i-bob-old"]
    assert members == [("g-ops2", "i-bob-new")]
    assert grants == {
        ("i-admin", None, "admin", "jot"),
        ("i-bob-new", None, "viewer", "web"),
        (None, "g-ops2", "viewer", "db"),
        ("i-conn", None, "connector", "jot.db"),
        ("i-conn", None, "connector", "jot.web"),
    }
    kinds = [(kind, target) for kind, target, _detail in events]
    assert kinds == [
        ("migration.grant_dropped", "user:carol@example.com"),
        ("migration.connector_grant_scoped", "user:web-connector"),
        ("migration.name_collision", "BOB@Example.com"),
        ("migration.name_collision", "Ops"),
    ]
    collision = events[2][2]
    assert collision["renamed"] == [
        {"id": "i-bob-new", "old": "bob@example.com", "new": "collision-i-bob-new:bob@example.com"}
    ]
    assert "nothing was merged" in collision["message"]
    assert events[1][2]["destinations"] == ["db", "web"]

    # Back down (names in grants again) and up once more: the rows survive both ways.
    _alembic(db, "oidc01", down=True)
    with db.engine.connect() as conn:
        subjects = set(conn.execute(text("SELECT subject FROM grants")).scalars())
    assert "user:collision-i-bob-new:bob@example.com" in subjects
    migrate(db)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM grants")).scalar() == 5
    db.dispose()


def test_issue_19_migrations_carry_rows_both_ways(db_url: str) -> None:
    """ar01 (time-bound grants, access requests), se01 (encryption keys) and rv01 (deny
    entries) on a database with rows: up, down to op01 and up again. Down, a time-bound grant
    is deleted, never kept without its end (older code would hold it for good)."""
    db = Database(db_url)
    _alembic(db, "oidc01")
    _insert_old_rows(db)
    _alembic(db, "op01")
    migrate(db)
    later = _T.replace(year=2027)
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE grants SET expires = :e WHERE role = 'viewer' AND resource = 'web'"),
            {"e": later},
        )
        conn.execute(text("UPDATE destinations SET encryption_key = '{}' WHERE id = 'd-web'"))
        conn.execute(
            text(
                "INSERT INTO revocations (id, kind, value, target, until, created) "
                "VALUES ('rv', 'subject', 'i-admin', 'user:admin', :u, :c)"
            ),
            {"u": later, "c": _T},
        )
        conn.execute(
            text(
                "INSERT INTO access_requests (id, identity_id, role, resource, destination_id, "
                "duration, reason, state, created, expires) VALUES ('ar', 'i-admin', 'viewer', "
                "'web', 'd-web', 3600, 'why', 'pending', :c, :u)"
            ),
            {"u": later, "c": _T},
        )
        grants = conn.execute(text("SELECT role, resource, expires FROM grants")).all()
    ends = {(role, resource): end is not None for role, resource, end in grants}
    assert ends[("admin", "jot")] is False
    assert ends[("viewer", "web")] is True
    _alembic(db, "op01", down=True)
    with db.engine.connect() as conn:
        kept = set(conn.execute(text("SELECT role, resource FROM grants")).all())
    assert ("admin", "jot") in kept
    assert ("viewer", "web") not in kept
    assert len(kept) == len(grants) - 1
    migrate(db)
    with db.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM grants WHERE expires IS NOT NULL")).scalar()
            == 0
        )
        assert conn.execute(text("SELECT count(*) FROM revocations")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM grants")).scalar() == len(kept)
    db.dispose()
