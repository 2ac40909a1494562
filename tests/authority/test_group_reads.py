"""A caller's groups and the grants they hold, as a key check and a token decision read them:
the same answers whichever way the reads go (ids and cached names, or every group's row; the
caller's groups leading, or the destination's grants)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert

from jot.api.roles import Held
from jot.authority import access
from jot.authority.authcache import AtRevision, GroupGrants, GroupNames
from jot.authority.clock import to_datetime
from jot.authority.db import Database
from jot.authority.models import Base, Destination, Grant, Group, Identity, Membership

NOW = 1_800_000_000.0
#: The caller's groups: enough for the destination's grants to lead where they are fewer.
MINE = 40


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    Base.metadata.create_all(database.engine)
    _fill(database)
    try:
        yield database
    finally:
        database.dispose()


def _fill(db: Database) -> None:
    """``me`` in groups G00…G39 (names in mixed case), ``other`` in g0; destinations ``few``
    (3 group grants, 2 of them mine, one time-bound, plus a direct one) and ``many`` (MINE * 3
    group grants, every other one mine)."""
    at = to_datetime(NOW)

    def grant(i: int, destination: str, group: str | None, *, user: str | None = None) -> Any:
        return {
            "id": f"{destination}{i}", "identity_id": user, "group_id": group, "role": f"r{i}",
            "resource": f"{destination}.x{i % 3}", "destination_id": destination,
            "created": at, "expires": at + timedelta(hours=1) if i % 2 else None,
        }  # fmt: skip

    groups = [f"{'G' if i % 2 else 'g'}{i:02}" for i in range(MINE * 3)]
    with db.engine.begin() as conn:
        conn.execute(insert(Identity), [
            {"id": who, "name": who, "name_key": who, "kind": "user", "created": at,
             "updated": at}
            for who in ("me", "other")
        ])  # fmt: skip
        conn.execute(insert(Group), [
            {"id": f"id-{name}", "name": name, "name_key": name.lower(), "created": at}
            for name in groups
        ])  # fmt: skip
        conn.execute(insert(Membership), [
            *({"group_id": f"id-{name}", "identity_id": "me"} for name in groups[:MINE]),
            {"group_id": f"id-{groups[0]}", "identity_id": "other"},
        ])  # fmt: skip
        conn.execute(insert(Destination), [
            {"id": name, "name": name, "kind": "http", "lifetime": 300, "group_narrowing": "all",
             "created": at, "updated": at}
            for name in ("few", "many")
        ])  # fmt: skip
        few = [f"id-{groups[i]}" for i in (3, 7, MINE + 1)]
        many = [f"id-{groups[i * 2 % len(groups)]}" for i in range(MINE * 3)]
        conn.execute(insert(Grant), [
            *(grant(i, "few", group) for i, group in enumerate(few)),
            grant(9, "few", None, user="me"),
            *(grant(i, "many", group) for i, group in enumerate(many)),
        ])  # fmt: skip


#: The names of ``me``'s groups (see :func:`_fill`).
MY_GROUPS = [f"{'G' if i % 2 else 'g'}{i:02}" for i in range(MINE)]


def _held(
    db: Database,
    destination: str,
    groups: list[str],
    shared: tuple[GroupGrants, int] | None = None,
) -> dict[str, list[Held]]:
    with db.reading() as conn:
        found = access.held_grants(conn, "me", "me", destination, groups=groups, shared=shared)
    return {subject: sorted(held) for subject, held in found.items()}


@pytest.mark.parametrize("destination", ["few", "many"])
def test_held_grants_are_the_same_whichever_side_leads(
    db: Database, destination: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_grants: list[str] = []
    rows = access._HELD_BY_GRANTS.rows

    def spy(*args: Any) -> Any:
        by_grants.append(destination)
        return rows(*args)

    monkeypatch.setattr(access._HELD_BY_GRANTS, "rows", spy)
    led_by_groups = _held(db, destination, [])  # Unknown groups: the caller's groups lead.
    assert by_grants == []
    either = _held(db, destination, MY_GROUPS)
    assert either == led_by_groups
    # few: G03, G07 and the direct grant (G41's is not mine); many: 20 even groups, twice.
    assert sum(len(held) for held in either.values()) == (3 if destination == "few" else 40)
    if destination == "few":
        assert set(led_by_groups) == {"user:me", "group:G03", "group:G07"}
        # SQLite plans without statistics: there, the destination's 3 group grants lead.
        assert by_grants == (["few"] if db.is_sqlite else [])
    else:
        assert by_grants == []  # 120 group grants, 40 groups: the groups lead.


def test_group_names_from_ids_and_known_names_match_the_full_read(db: Database) -> None:
    known = GroupNames()
    with db.reading() as conn:
        full = access.group_names(conn, "me")
        first = access.group_names(conn, "me", known)  # Learns the names.
        again = access.group_names(conn, "me", known)  # From the ids and the known names.
        others = access.group_names(conn, "other", known)
    assert full == first == again == sorted(full)
    assert len(full) == MINE
    assert full[:2] == ["G01", "G03"]  # Code-point order: upper case first.
    assert others == ["g00"]
    with db.engine.begin() as conn:  # A deleted group leaves its memberships.
        conn.execute(delete(Membership).where(Membership.group_id == "id-G01"))
        conn.execute(delete(Group).where(Group.id == "id-G01"))
    with db.reading() as conn:
        assert "G01" not in access.group_names(conn, "me", known)
        assert access.group_names(conn, "nobody", known) == []


def test_known_group_names_answer_all_or_nothing_and_expire() -> None:
    names = GroupNames(ttl=60, max_entries=2)
    assert names.names(["a"]) is None
    names.learn([("a", "alpha"), ("b", "beta")])
    assert names.names(["b", "a"]) == ["beta", "alpha"]
    assert names.names(["b"]) == ["beta"]
    assert names.names([]) is None  # No groups: nothing to look up (the caller knows).
    assert names.names(["a", "c"]) is None  # One unknown: read them all.
    names.learn([("c", "gamma"), ("d", "delta")])  # Over the bound: start again.
    assert names.names(["c", "d"]) == ["gamma", "delta"]
    assert names.names(["a"]) is None
    expired = GroupNames(ttl=0)
    expired.learn([("a", "alpha")])
    assert expired.names(["a"]) is None


@pytest.mark.parametrize("destination", ["few", "many"])
def test_kept_group_grants_give_the_same_grants_as_the_search(
    db: Database, destination: str
) -> None:
    kept = GroupGrants()
    searched = _held(db, destination, MY_GROUPS)
    assert _held(db, destination, MY_GROUPS, (kept, 7)) == searched  # Read into kept.
    assert _held(db, destination, MY_GROUPS, (kept, 7)) == searched  # From kept.
    # few: 3 group grants are kept; many: 120, over the bound, are searched each time.
    found = kept.get(destination, 7)
    if destination == "few":
        assert found is not False
        assert found is not None
        assert sorted(group for _, group, _ in found) == ["G03", "G07", "G41"]
    else:
        assert found is None
    with db.engine.begin() as conn:  # A change, and its revision (as grants_store does).
        conn.execute(
            delete(Grant).where(Grant.destination_id == destination, Grant.group_id.is_not(None))
        )
    mine = {"user:me": searched["user:me"]} if destination == "few" else {}
    kept_at_7 = searched if destination == "few" else mine  # "many" is searched each time.
    assert _held(db, destination, MY_GROUPS, (kept, 7)) == kept_at_7
    assert _held(db, destination, MY_GROUPS, (kept, 8)) == mine


def test_values_at_a_revision_follow_the_newest() -> None:
    grant = ("group:a", "a", Held("web", "viewer"))
    kept: GroupGrants = AtRevision(max_entries=2)
    assert kept.get("web", 1) is False
    kept.put("web", 2, (grant,))
    assert kept.get("web", 2) == (grant,)
    assert kept.get("web", 1) is False  # An older revision's reader reads for itself.
    kept.put("web", 1, ())  # ... and does not replace the newer entry.
    assert kept.get("web", 2) == (grant,)
    kept.put("big", 2, None)  # Too many: searched.
    assert kept.get("big", 2) is None
    kept.put("third", 2, ())  # Over the bound: start again.
    assert kept.get("web", 2) is False
    assert kept.get("third", 2) == ()
