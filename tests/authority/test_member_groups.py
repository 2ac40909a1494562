"""Key checks keep an identity's groups by the memberships' revision (migration gm01): every
change of a membership advances it, whoever makes it, and a replica that kept a user's groups
sees the change at its next key check."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import create_engine, delete, insert, select, text

from jot.authority.access import MEMBERSHIPS_REVISION
from jot.authority.app import Started
from jot.authority.models import Membership

from .conftest import bearer
from .helpers import postgres_base_url
from .test_api import _setup, _token

pytestmark = pytest.mark.anyio

ALICE = "alice@example.com"


def _revision(started: Started) -> int:
    with started.authority.db.reading() as conn:
        value = conn.scalar(select(MEMBERSHIPS_REVISION))
    assert value is not None, "the memberships revision is missing (migration gm01)"
    return int(value)


async def test_every_change_of_a_membership_advances_the_revision(
    admin: httpx.AsyncClient, started: Started
) -> None:
    before = _revision(started)
    await _setup(admin)  # Two memberships added.
    assert _revision(started) >= before + 2
    steps = [
        ("DELETE", f"/api/groups/ops/members/{ALICE}"),
        ("POST", "/api/groups/ops/members"),
        ("DELETE", "/api/groups/ops"),  # The cascade of a deleted group.
        ("DELETE", f"/api/users/{ALICE}"),  # ... and of a deleted identity.
    ]
    for method, path in steps:
        seen = _revision(started)
        body = {"name": ALICE} if method == "POST" else None
        response = await admin.request(method, path, json=body)
        assert response.status_code in (200, 204), (path, response.text)
        assert _revision(started) > seen, path
    admin_id = (await admin.get("/api/whoami")).json()["id"]
    devs = (await admin.get("/api/groups/devs")).json()["id"]
    row = {"group_id": devs, "identity_id": admin_id}
    for change in (insert(Membership).values(row), delete(Membership)):  # Not through jot.
        seen = _revision(started)
        with started.authority.db.engine.begin() as conn:
            conn.execute(change)
        assert _revision(started) > seen, change


async def test_a_replica_sees_membership_changes_at_its_next_key_check(
    admin: httpx.AsyncClient, replica: tuple[httpx.AsyncClient, Started]
) -> None:
    key = await _setup(admin, narrowing="grants")  # alice in devs and ops; web grants devs.
    other, started = replica
    whoami = await other.get("/api/whoami", headers=bearer(key))
    assert whoami.json()["groups"] == ["devs", "ops"]
    assert started.authority.member_groups.get(whoami.json()["id"], _revision(started))
    removed = await admin.delete(f"/api/groups/devs/members/{ALICE}")
    assert removed.status_code == 204, removed.text
    assert (await other.get("/api/whoami", headers=bearer(key))).json()["groups"] == ["ops"]
    assert (await _token(other, key)).status_code == 403  # Its grant came through devs.
    added = await admin.post("/api/groups/devs/members", json={"name": ALICE})
    assert added.status_code == 200, added.text
    token = await _token(other, key)
    assert token.status_code == 201, token.text


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_change_from_a_session_with_another_search_path_advances_it(
    admin: httpx.AsyncClient, started: Started
) -> None:
    """A script that names jot's schema but searches another (a DBA's psql, say) moves jot's
    revision, not a ``revisions`` table it happens to find elsewhere, and does not fail."""
    await _setup(admin)
    engine = started.authority.db.engine
    with engine.connect() as conn:
        schema = conn.scalar(text("SELECT current_schema()"))
    seen = _revision(started)
    other = create_engine(postgres_base_url(), isolation_level="AUTOCOMMIT")
    try:
        with other.connect() as conn:
            conn.execute(text("SET search_path TO public"))
            conn.execute(text(f'DELETE FROM "{schema}".memberships'))
    finally:
        other.dispose()
    assert _revision(started) > seen
