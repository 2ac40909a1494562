"""The authority never issues a token a destination would refuse for its size: it answers
422 ``token_too_large`` with what to do, on every path (caches cold or warm)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from jot.api.claims import MAX_TOKEN_BYTES
from jot.authority import audit
from jot.authority.app import Started
from jot.authority.credentials import new_id
from jot.authority.models import Group, Identity, Membership
from jot.jose.hazmat import decode_unverified

pytestmark = pytest.mark.anyio


def _join_groups(started: Started, count: int) -> list[str]:
    """Make ``admin`` a member of ``count`` groups with long names (rows written directly:
    through the API this would be hundreds of requests)."""
    now = datetime.now(UTC)
    names = [f"team-{i:03d}-" + "x" * 200 for i in range(count)]
    with started.authority.db.transaction() as session:
        admin = session.scalars(select(Identity).where(Identity.name_key == "admin")).one()
        for name in names:
            group = Group(id=new_id(), name=name, created=now)
            session.add(group)
            session.flush()
            session.add(Membership(group_id=group.id, identity_id=admin.id))
    started.authority.auth_cache.clear()  # The key's cached check carries the old groups.
    return names


async def _setup(admin: httpx.AsyncClient, started: Started, groups: int) -> list[str]:
    names = _join_groups(started, groups)
    created = await admin.post("/api/destinations", json={"name": "web"})
    assert created.status_code == 201, created.text
    granted = await admin.post(
        "/api/grants", json={"subject": f"group:{names[0]}", "role": "viewer", "resource": "web"}
    )
    assert granted.status_code == 201, granted.text
    return names


async def test_a_token_too_large_for_destinations_is_refused_with_what_to_do(
    admin: httpx.AsyncClient, started: Started
) -> None:
    await _setup(admin, started, 80)  # ~17 KB of groups: over the limit
    for _ in range(2):  # Caches cold, then warm: the same answer.
        refused = await admin.post("/api/tokens", json={"destination": "web"})
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["error"] == "token_too_large"
        assert f"over the {MAX_TOKEN_BYTES:,} that destinations accept" in body["message"]
        assert "80 groups" in body["message"]
        assert "jot destinations update web --groups grants" in body["message"]
    with started.authority.db.transaction(write=False) as session:
        issued = audit.query(session, kind="token.issued")
    assert [event.target for event in issued if event.target == "web"] == []


async def test_narrowing_brings_the_token_back_under_the_limit(
    admin: httpx.AsyncClient, started: Started
) -> None:
    names = await _setup(admin, started, 80)
    narrowed = await admin.patch("/api/destinations/web", json={"group_narrowing": "grants"})
    assert narrowed.status_code == 200, narrowed.text
    issued = await admin.post("/api/tokens", json={"destination": "web"})
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert len(token) <= MAX_TOKEN_BYTES
    assert decode_unverified(token).payload["groups"] == [names[0]]


async def test_when_narrowed_groups_are_still_too_many_the_answer_says_so(
    admin: httpx.AsyncClient, started: Started
) -> None:
    names = await _setup(admin, started, 80)
    await admin.patch("/api/destinations/web", json={"group_narrowing": "grants"})
    for name in names[1:]:
        granted = await admin.post(
            "/api/grants", json={"subject": f"group:{name}", "role": "viewer", "resource": "web"}
        )
        assert granted.status_code == 201, granted.text
    refused = await admin.post("/api/tokens", json={"destination": "web"})
    assert refused.status_code == 422, refused.text
    assert "fewer of admin's groups could hold grants on 'web'" in refused.json()["message"]


async def test_a_large_token_under_the_limit_is_issued(
    admin: httpx.AsyncClient, started: Started
) -> None:
    await _setup(admin, started, 50)  # ~15 KB
    issued = await admin.post("/api/tokens", json={"destination": "web"})
    assert issued.status_code == 201, issued.text
    assert len(issued.json()["token"]) <= MAX_TOKEN_BYTES
