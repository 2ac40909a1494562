"""One's own audit events (``GET /api/my-audit``, "My access"): what the caller did and what
was done to it, paged, and never anyone else's, whatever the caller's roles."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from jot.authority.app import Started
from jot.authority.audit import own_side
from jot.authority.clock import FakeClock

from .conftest import bearer
from .pages import person, signed_in

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


async def _login(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    done = await http.post("/api/login", json={"name": name, "password": PASSWORD})
    assert done.status_code == 201, done.text
    return bearer(done.json()["access_key"])


async def _mine(http: httpx.AsyncClient, key: dict[str, str], **params: int) -> list[dict]:
    found = await http.get("/api/my-audit", headers=key, params=params)
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


@pytest.fixture
async def two(client: httpx.AsyncClient, admin_key: str) -> tuple[dict, dict]:
    for name in ("alice", "bob"):
        await person(client, admin_key, name, PASSWORD)
    await client.post("/api/destinations", json={"name": "web"}, headers=bearer(admin_key))
    grant = {"subject": "user:alice", "role": "viewer", "resource": "web"}
    await client.post("/api/grants", json=grant, headers=bearer(admin_key))
    return await _login(client, "alice"), await _login(client, "bob")


async def test_a_user_sees_their_events_and_never_anothers(
    client: httpx.AsyncClient, admin_key: str, two: tuple[dict, dict]
) -> None:
    alice, bob = two
    change = {"current": PASSWORD, "new": "another good one"}
    assert (await client.post("/api/password", json=change, headers=bob)).status_code == 204
    assert (await client.post("/api/tokens", json={"destination": "web"}, headers=alice)).is_success
    mine = await _mine(client, alice)
    kinds = [(e["kind"], e["actor"], e["target"]) for e in mine]
    assert ("login.ok", "alice", "alice") in kinds
    assert ("identity.created", "admin", "alice") in kinds  # Done to alice, by the admin.
    assert all("alice" in (e["actor"], e["target"]) for e in mine)
    assert all(e["kind"] != "token.issued" for e in mine)
    theirs = await _mine(client, bob)
    assert any(e["kind"] == "identity.password_changed" for e in theirs), theirs
    assert all("bob" in (e["actor"], e["target"]) for e in theirs)
    assert not {e["id"] for e in mine} & {e["id"] for e in theirs}
    # An admin's own list is its own too; the whole log is /api/audit.
    admins = await _mine(client, bearer(admin_key))
    assert admins
    assert all("admin" in (e["actor"], e["target"]) for e in admins)
    # No parameter reaches another identity's events.
    odd = await client.get("/api/my-audit", headers=alice, params={"actor": "bob"})
    assert all("alice" in (e["actor"], e["target"]) for e in odd.json()["items"])
    assert (await client.get("/api/my-audit")).status_code == 401


async def test_paging_back_by_id(client: httpx.AsyncClient, two: tuple[dict, dict]) -> None:
    alice, _ = two
    for _ in range(4):
        await _login(client, "alice")
    every = await _mine(client, alice, limit=100)
    assert [e["id"] for e in every] == sorted((e["id"] for e in every), reverse=True)
    first = await _mine(client, alice, limit=3)
    second = await _mine(client, alice, limit=3, before=first[-1]["id"])
    assert [e["id"] for e in first + second] == [e["id"] for e in every][:6]
    for bad in ({"limit": 0}, {"limit": 101}, {"before": 0}):
        assert (await client.get("/api/my-audit", headers=alice, params=bad)).status_code == 400


async def test_a_new_identity_of_an_old_name_sees_none_of_the_old_ones_events(
    client: httpx.AsyncClient, admin_key: str, clock: FakeClock, two: tuple[dict, dict]
) -> None:
    assert await _mine(client, two[0])
    gone = await client.delete("/api/users/alice", headers=bearer(admin_key))
    assert gone.status_code == 204
    clock.advance(5)
    await person(client, admin_key, "alice", PASSWORD)
    again = await _mine(client, await _login(client, "alice"))
    assert {e["kind"] for e in again} == {"identity.created", "login.ok"}


async def test_my_access_lists_them(started: Started, client, two: tuple[dict, dict]) -> None:
    browser = await signed_in(started, "alice", PASSWORD)
    page = (await browser.get("/")).text
    assert 'id="events"' in page
    assert "web.session.started" in page
    assert ">bob<" not in page
    await browser.aclose()


def test_each_side_reads_its_index(started: Started) -> None:
    """Each of the two lookups ``own`` makes is a range of its partial index: the query repeats
    the index's condition (PostgreSQL, which prefers a scan of a table this small, is told not
    to scan, to see that the index applies at all)."""
    db = started.authority.db
    postgres = db.engine.dialect.name == "postgresql"
    since = datetime(2026, 1, 1, tzinfo=UTC)
    with db.transaction() as session:
        if postgres:
            session.execute(text("SET LOCAL enable_seqscan = off"))
        for side in ("actor", "target"):
            stmt = own_side(side, "alice", since, limit=5, before=1000)
            sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN" if postgres else "EXPLAIN QUERY PLAN"
            plan = " ".join(str(row) for row in session.execute(text(f"{explain} {sql}")))
            assert f"ix_audit_{side}_id" in plan, plan
