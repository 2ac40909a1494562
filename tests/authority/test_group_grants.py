"""Small destinations' group grants, kept by the grants' revision (``GroupGrants``): a
replica that kept them sees another replica's grant changes at its next decision."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from jot.authority import grants_store
from jot.authority.app import Started

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


def _revision(started: Started) -> int:
    with started.authority.db.reading() as conn:
        return int(conn.scalar(select(grants_store.CURRENT)))
