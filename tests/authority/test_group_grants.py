"""Small destinations' group grants, kept by the grants' revision (``GroupGrants``): a
replica that kept them sees another replica's grant changes at its next decision."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from jot.authority import grants_store
from jot.authority.app import Started, create_app, open_authority
from jot.authority.authcache import AuthCache
from jot.authority.clock import FakeClock
from jot.authority.settings import Settings

from .conftest import ISSUER
from .test_api import _setup, _token

pytestmark = pytest.mark.anyio


@pytest.fixture
async def replica(
    settings: Settings, clock: FakeClock, started: Started
) -> AsyncIterator[tuple[httpx.AsyncClient, Started]]:
    """A second authority process on the same database, without the 1 s caches of key checks
    and decisions (what is left to go stale is the group grants it keeps)."""
    other = open_authority(settings, clock=clock)
    other.authority.auth_cache = AuthCache(ttl=0)
    other.authority.decisions = AuthCache(ttl=0)
    transport = httpx.ASGITransport(app=create_app(authority=other.authority))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
            yield http, other
    finally:
        other.authority.close()


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
