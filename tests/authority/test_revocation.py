"""Revocation (issue 19 item 4) at the authority, on SQLite and PostgreSQL: a user's keys and
tokens, or one token, refused; the entry pushed through the grants long-poll; aged out when
the last token it concerns has expired."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest

from jot.api.claims import MAX_LEEWAY
from jot.authority import lapse
from jot.authority.app import Started
from jot.authority.clock import FakeClock

from .conftest import bearer

pytestmark = pytest.mark.anyio


async def _ok(http: httpx.AsyncClient, method: str, path: str, **kwargs) -> httpx.Response:
    response = await http.request(method, path, **kwargs)
    assert response.is_success, (method, path, response.text)
    return response


async def _world(admin: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """bob with a grant on web (lifetime 600 s) and a key; returns bob's header and id."""
    made = await _ok(admin, "POST", "/api/users", json={"name": "bob", "kind": "machine"})
    await _ok(admin, "POST", "/api/destinations", json={"name": "web", "lifetime": 600})
    grant = {"subject": "user:bob", "role": "viewer", "resource": "web"}
    await _ok(admin, "POST", "/api/grants", json=grant)
    key = await _ok(admin, "POST", "/api/access-keys", json={"identity": "bob"})
    return bearer(key.json()["access_key"]), made.json()["id"]


async def test_revoking_a_user(
    admin: httpx.AsyncClient, started: Started, clock: FakeClock
) -> None:
    bob, bob_id = await _world(admin)
    assert (await admin.post("/api/tokens", json={"destination": "web"}, headers=bob)).is_success
    before = (await _ok(admin, "GET", "/api/grants", params={"destination": "web"})).json()
    made = (await _ok(admin, "POST", "/api/revocations", json={"subject": "user:bob"})).json()
    now = datetime.fromtimestamp(clock.now).astimezone()
    until = datetime.fromisoformat(made["until"])
    # Until every token issued before now has expired, even at the most lenient destination.
    assert until == now + timedelta(seconds=600 + MAX_LEEWAY)
    assert (made["kind"], made["target"], made["value"]) == ("subject", "user:bob", bob_id)
    assert len(made["revoked_access_keys"]) == 1
    # Its keys stop at once, and a new one brings no token while the entry lasts.
    assert (
        await admin.post("/api/tokens", json={"destination": "web"}, headers=bob)
    ).status_code == 401
    fresh = await _ok(admin, "POST", "/api/access-keys", json={"identity": "bob"})
    again = await admin.post(
        "/api/tokens", json={"destination": "web"}, headers=bearer(fresh.json()["access_key"])
    )
    assert again.status_code == 403
    assert again.json()["message"].startswith("bob is revoked until ")
    # Destinations get the entry with the grants, with a new revision.
    after = (await _ok(admin, "GET", "/api/grants", params={"destination": "web"})).json()
    assert after["revision"] > before["revision"]
    assert after["revoked"] == [{"kind": "subject", "value": bob_id, "until": made["until"]}]
    events = (await _ok(admin, "GET", "/api/audit", params={"kind": "revocation."})).json()
    assert [e["kind"] for e in events["items"]] == ["revocation.created"]
    # It ages out: gone from the list at its end, deleted by the sweep.
    clock.advance(600 + MAX_LEEWAY)
    assert (await _ok(admin, "GET", "/api/grants")).json()["revoked"] == []
    assert (await _ok(admin, "GET", "/api/revocations")).json()["items"] == []
    lapse.sweep(started.authority)
    again = await admin.post(
        "/api/tokens", json={"destination": "web"}, headers=bearer(fresh.json()["access_key"])
    )
    assert again.status_code == 201


async def test_revoking_a_token_answers_a_parked_long_poll(admin: httpx.AsyncClient) -> None:
    await _world(admin)
    first = await _ok(admin, "GET", "/api/grants", params={"destination": "web"})
    etag = first.headers["etag"]

    async def watch() -> httpx.Response:
        return await admin.get(
            "/api/grants", params={"destination": "web", "wait": 30},
            headers={"If-None-Match": etag},
        )  # fmt: skip

    parked = asyncio.create_task(watch())
    await asyncio.sleep(0.3)
    began = asyncio.get_running_loop().time()
    await _ok(admin, "POST", "/api/revocations", json={"token": "jti-1", "reason": "leaked"})
    answered = await asyncio.wait_for(parked, 5)
    assert asyncio.get_running_loop().time() - began < 1.5
    assert answered.status_code == 200
    assert [(r["kind"], r["value"]) for r in answered.json()["revoked"]] == [("token", "jti-1")]
    listed = (await _ok(admin, "GET", "/api/revocations")).json()["items"]
    assert [(r["target"], r["reason"]) for r in listed] == [("jti-1", "leaked")]
    # Lifted before it ages out.
    await _ok(admin, "DELETE", f"/api/revocations/{listed[0]['id']}")
    assert (await _ok(admin, "GET", "/api/grants")).json()["revoked"] == []


async def test_mistakes(admin: httpx.AsyncClient) -> None:
    await _world(admin)
    for body, status, message in (
        ({}, 400, "give subject (user:NAME) or token (a jti), one of them"),
        ({"subject": "user:bob", "token": "x"}, 400, "give subject"),
        ({"subject": "group:ops"}, 400, None),
        ({"subject": "user:nobody"}, 404, "no identity named 'nobody'"),
        ({"token": "bad token"}, 400, None),
    ):
        response = await admin.post("/api/revocations", json=body)
        assert response.status_code == status, (body, response.text)
        if message:
            assert response.json()["message"].startswith(message)
    assert (await admin.delete("/api/revocations/nope")).status_code == 404


async def test_a_revoked_admin_holds_no_role_here_even_with_a_new_key(
    admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A new login (here: a new key) after ``jot revoke`` gives no role on the authority's own
    API while the entry lasts: the decision that refuses its tokens refuses its roles too."""
    await _ok(admin, "POST", "/api/users", json={"name": "eve", "kind": "machine"})
    grant = {"subject": "user:eve", "role": "admin", "resource": "jot"}
    await _ok(admin, "POST", "/api/grants", json=grant)
    await _ok(admin, "POST", "/api/revocations", json={"subject": "user:eve"})
    fresh = await _ok(admin, "POST", "/api/access-keys", json={"identity": "eve"})
    eve = bearer(fresh.json()["access_key"])
    refused = await admin.get("/api/users", headers=eve)
    assert refused.status_code == 403, refused.text
    lift = await admin.post("/api/revocations", json={"subject": "user:admin"}, headers=eve)
    assert lift.status_code == 403
    assert (await admin.get("/api/whoami", headers=eve)).status_code == 200  # Its own: still.
    clock.advance(300 + MAX_LEEWAY)  # Aged out: an admin again.
    assert (await admin.get("/api/users", headers=eve)).status_code == 200


async def test_a_new_user_with_a_revoked_name_is_someone_else(admin: httpx.AsyncClient) -> None:
    """The entry names the identity's id: bob deleted and a new bob made (any spelling of the
    name) is not refused, at the authority nor at a destination; the old bob's tokens are."""
    from jot.destination.grants import GrantIndex

    _old, old_id = await _world(admin)
    await _ok(admin, "POST", "/api/revocations", json={"subject": "user:BOB"})  # Any case.
    await _ok(admin, "DELETE", "/api/users/bob")
    made = await _ok(admin, "POST", "/api/users", json={"name": "Bob", "kind": "machine"})
    new_id = made.json()["id"]
    assert new_id != old_id
    grant = {"subject": "user:Bob", "role": "viewer", "resource": "web"}
    await _ok(admin, "POST", "/api/grants", json=grant)
    key = await _ok(admin, "POST", "/api/access-keys", json={"identity": "Bob"})
    issued = await admin.post(
        "/api/tokens", json={"destination": "web"}, headers=bearer(key.json()["access_key"])
    )
    assert issued.status_code == 201, issued.text
    listed = (await _ok(admin, "GET", "/api/grants", params={"destination": "web"})).json()
    index = GrantIndex(listed["items"], listed["revoked"])
    assert index.revoked(old_id, "any-jti")
    assert not index.revoked(new_id, "any-jti")
    assert index.roles_for("Bob", [], "web") == {"viewer"}


async def test_deleting_a_user_refuses_its_tokens_everywhere(admin: httpx.AsyncClient) -> None:
    """Destinations give roles by the token's name: without a deny entry, the deleted bob's
    tokens would get the grants of the next person called bob until they expire."""
    from jot.destination.grants import GrantIndex

    bob, old_id = await _world(admin)
    await _ok(admin, "POST", "/api/tokens", json={"destination": "web"}, headers=bob)
    before = (await _ok(admin, "GET", "/api/grants", params={"destination": "web"})).json()
    await _ok(admin, "DELETE", "/api/users/bob")
    await _ok(admin, "POST", "/api/users", json={"name": "bob", "kind": "machine"})
    grant = {"subject": "user:bob", "role": "admin", "resource": "web"}
    await _ok(admin, "POST", "/api/grants", json=grant)
    after = (await _ok(admin, "GET", "/api/grants", params={"destination": "web"})).json()
    assert after["revision"] > before["revision"]
    index = GrantIndex(after["items"], after["revoked"])
    assert index.revoked(old_id, "any-jti")  # The old bob's tokens: refused.
    assert index.roles_for("bob", [], "web") == {"admin"}  # The new bob's: his roles.
    (entry,) = (await _ok(admin, "GET", "/api/revocations")).json()["items"]
    assert (entry["target"], entry["reason"]) == ("user:bob", "identity deleted")
