"""Small destinations' group grants, kept by the grants' revision (``GroupGrants``): a
replica that kept them sees another replica's grant changes, and changes made in the database
by hand (triggers advance the revision, migration gm01), at its next decision."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete, select

from jot.authority import grants_store
from jot.authority.app import Started
from jot.authority.models import Grant

from .test_api import _setup, _token

pytestmark = pytest.mark.anyio


async def test_a_replica_sees_group_grant_changes_at_its_next_decision(
    admin: httpx.AsyncClient, replica: tuple[httpx.AsyncClient, Started]
) -> None:
    key = await _setup(admin)  # alice in devs and ops; web grants devs.
    other, started = replica
    assert (await _token(other, key)).status_code == 201
    kept = started.authority.group_grants
    grants = (await admin.get("/api/grants", params={"destination": "web"})).json()["items"]
    assert len(grants) == 1
    assert (await admin.delete(f"/api/grants/{grants[0]['id']}")).status_code == 204
    refused = await _token(other, key)
    assert refused.status_code == 403, refused.text
    body = {"subject": "group:ops", "role": "viewer", "resource": "web"}
    assert (await admin.post("/api/grants", json=body)).status_code == 201
    again = await _token(other, key)
    assert again.status_code == 201, again.text
    assert again.json()["token"]
    # Each answer came from the group grants kept at the revision the decision read.
    assert [group for _, group, _ in kept.get("web", _revision(started)) or ()] == ["ops"]


async def test_a_grant_removed_in_the_database_by_hand_is_seen_at_the_next_decision(
    admin: httpx.AsyncClient, started: Started
) -> None:
    key = await _setup(admin)
    assert (await _token(admin, key)).status_code == 201  # The grants of web are kept now.
    started.authority.decisions.clear()  # Not the 1 s cache of decisions: the kept grants.
    seen = _revision(started)
    with started.authority.db.engine.begin() as conn:
        conn.execute(delete(Grant).where(Grant.group_id.is_not(None)))
    assert _revision(started) > seen
    refused = await _token(admin, key)
    assert refused.status_code == 403, refused.text


def _revision(started: Started) -> int:
    with started.authority.db.reading() as conn:
        return int(conn.scalar(select(grants_store.CURRENT)))
