"""Time-bound grants (issue 19 item 2) at the authority, on SQLite and PostgreSQL: made with
a duration or an end, listed with it, applied until then and not a moment after (before any
sweep, through the caches), then deleted and audited as lapsed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jot.authority import lapse
from jot.authority.app import Started
from jot.authority.clock import FakeClock

from .conftest import bearer

pytestmark = pytest.mark.anyio


async def _ok(http: httpx.AsyncClient, method: str, path: str, **kwargs) -> httpx.Response:
    response = await http.request(method, path, **kwargs)
    assert response.is_success, (method, path, response.text)
    return response


async def _bob(admin: httpx.AsyncClient) -> dict[str, str]:
    await _ok(admin, "POST", "/api/users", json={"name": "bob", "kind": "machine"})
    await _ok(admin, "POST", "/api/destinations", json={"name": "web"})
    made = await _ok(admin, "POST", "/api/access-keys", json={"identity": "bob"})
    return bearer(made.json()["access_key"])


async def _token(http: httpx.AsyncClient, who: dict[str, str]) -> int:
    return (await http.post("/api/tokens", json={"destination": "web"}, headers=who)).status_code


def _grant(**extra) -> dict:
    return {"subject": "user:bob", "role": "viewer", "resource": "web", **extra}


async def test_a_grant_for_two_hours(
    admin: httpx.AsyncClient, started: Started, clock: FakeClock
) -> None:
    bob = await _bob(admin)
    made = (await _ok(admin, "POST", "/api/grants", json=_grant(duration=7200))).json()
    now = datetime.fromtimestamp(clock.now, UTC)
    assert datetime.fromisoformat(made["expires"]) == now + timedelta(seconds=7200)
    listed = (await _ok(admin, "GET", "/api/grants", params={"destination": "web"})).json()
    assert [g["expires"] for g in listed["items"]] == [made["expires"]]
    assert await _token(admin, bob) == 201
    assert await _token(admin, bob) == 201  # Now from the caches.
    clock.advance(7200 - 1)
    assert await _token(admin, bob) == 201
    revision = listed["revision"]
    # At the end it stops applying at once: no sweep yet, the cached decision not used.
    clock.advance(1)
    refused = await admin.post("/api/tokens", json={"destination": "web"}, headers=bob)
    assert refused.status_code == 403
    assert refused.json()["message"] == "bob has no grant on 'web'; ask an admin for one"
    assert lapse.sweep(started.authority) == 1
    after = (await _ok(admin, "GET", "/api/grants", params={"destination": "web"})).json()
    assert after["items"] == []
    assert after["revision"] > revision  # Watching destinations are told.
    events = (await _ok(admin, "GET", "/api/audit", params={"kind": "grant."})).json()["items"]
    ends = [(e["kind"], datetime.fromisoformat(e["detail"]["expires"])) for e in events][:2]
    end = datetime.fromisoformat(made["expires"])
    assert ends == [("grant.lapsed", end), ("grant.created", end)]


async def test_until_a_time_and_extending(admin: httpx.AsyncClient, clock: FakeClock) -> None:
    bob = await _bob(admin)
    now = datetime.fromtimestamp(clock.now, UTC)
    end = (now + timedelta(hours=1)).isoformat()
    first = (await _ok(admin, "POST", "/api/grants", json=_grant(expires=end))).json()
    assert datetime.fromisoformat(first["expires"]) == datetime.fromisoformat(end)
    # Again with a later end: the same grant runs on; with an earlier one, nothing changes.
    later = (await _ok(admin, "POST", "/api/grants", json=_grant(duration=7200))).json()
    assert (later["id"], later["expires"] > first["expires"]) == (first["id"], True)
    same = await admin.post("/api/grants", json=_grant(duration=60))
    assert same.status_code == 409
    assert "that grant already exists until" in same.json()["message"]
    # Without an end: the grant is kept for good, and a time-bound one cannot shorten it.
    kept = (await _ok(admin, "POST", "/api/grants", json=_grant())).json()
    assert (kept["id"], kept["expires"]) == (first["id"], None)
    assert (await admin.post("/api/grants", json=_grant(duration=60))).status_code == 409
    clock.advance(3 * 3600)
    assert await _token(admin, bob) == 201
    kinds = [e["kind"] for e in (await admin.get("/api/audit?kind=grant.")).json()["items"]]
    assert kinds[:3] == ["grant.extended", "grant.extended", "grant.created"]


async def test_bad_ends_are_one_line(admin: httpx.AsyncClient, clock: FakeClock) -> None:
    await _bob(admin)
    now = datetime.fromtimestamp(clock.now, UTC)
    cases = [
        (_grant(duration=60, expires=(now + timedelta(hours=1)).isoformat()), "give duration"),
        (_grant(expires=(now - timedelta(seconds=1)).isoformat()), "expires is in the past"),
        (_grant(expires="2030-01-01T00:00:00"), "expires needs a time zone"),
        (_grant(expires=(now + timedelta(days=400)).isoformat()), "more than a year away"),
        (_grant(duration=0), "duration"),
    ]
    for body, message in cases:
        response = await admin.post("/api/grants", json=body)
        assert response.status_code == 400, (body, response.text)
        assert message in response.json()["message"], body


async def test_a_time_bound_admin_lapses_for_the_api_too(
    admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    bob = await _bob(admin)
    grant = {"subject": "user:bob", "role": "admin", "resource": "jot", "duration": 600}
    await _ok(admin, "POST", "/api/grants", json=grant)
    assert (await admin.get("/api/users", headers=bob)).status_code == 200
    assert (await admin.get("/api/users", headers=bob)).status_code == 200  # Cached key check.
    clock.advance(600)
    assert (await admin.get("/api/users", headers=bob)).status_code == 403
