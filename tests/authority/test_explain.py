"""Explain access (issue 17): ``GET /api/explain`` and ``GET /api/my-access`` answer from the
token endpoint's own decision, so they never disagree with it."""

from __future__ import annotations

import httpx
import pytest

from jot.authority.app import Started

from .conftest import bearer
from .pages import signed_in

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


async def _world(admin: httpx.AsyncClient) -> dict[str, str]:
    keys = {}
    for name in ("alice", "bob"):
        made = await admin.post("/api/users", json={"name": name, "kind": "machine"})
        assert made.status_code == 201, made.text
        key = await admin.post("/api/access-keys", json={"identity": name})
        keys[name] = key.json()["access_key"]
    await admin.post("/api/groups", json={"name": "dev"})
    await admin.post("/api/groups/dev/members", json={"name": "alice"})
    for name in ("web", "db"):
        await admin.post("/api/destinations", json={"name": name})
    await admin.patch("/api/destinations/db", json={"group_narrowing": "grants"})
    for subject, role, resource in (
        ("user:alice", "viewer", "web"),
        ("group:dev", "admin", "web.ns"),
        ("group:dev", "editor", "db"),
    ):
        body = {"subject": subject, "role": role, "resource": resource}
        assert (await admin.post("/api/grants", json=body)).status_code == 201
    return keys


async def _explain(admin: httpx.AsyncClient, subject: str, resource: str) -> dict:
    response = await admin.get("/api/explain", params={"subject": subject, "resource": resource})
    assert response.status_code == 200, response.text
    return response.json()


async def test_roles_and_where_they_come_from(admin: httpx.AsyncClient) -> None:
    await _world(admin)
    found = await _explain(admin, "user:alice", "web.ns")
    assert (found["token"], found["roles"]) == (True, ["admin", "viewer"])
    assert {(s["subject"], s["role"], s["applies"]) for s in found["sources"]} == {
        ("user:alice", "viewer", True),
        ("group:dev", "admin", True),
    }
    found = await _explain(admin, "user:alice", "web")
    assert found["roles"] == ["viewer"]  # A grant on web.ns gives nothing on web itself.
    assert ("group:dev", "admin", False) in {
        (s["subject"], s["role"], s["applies"]) for s in found["sources"]
    }
    found = await _explain(admin, "user:alice", "db")
    assert (found["lifetime"], found["token_groups"]) == (300, ["dev"])
    found = await _explain(admin, "group:dev", "db.x")
    assert (found["token"], found["roles"]) == (True, ["editor"])


async def test_a_refusal_says_why(admin: httpx.AsyncClient) -> None:
    await _world(admin)
    found = await _explain(admin, "user:bob", "web")
    assert (found["token"], found["roles"], found["sources"]) == (False, [], [])
    assert found["reason"] == "bob has no grant on 'web'; ask an admin for one"
    for params, status, message in (
        ({"subject": "user:alice", "resource": "nowhere"}, 404, "no destination named 'nowhere'"),
        ({"subject": "user:carol", "resource": "web"}, 404, "no identity named 'carol'"),
        ({"subject": "group:ops", "resource": "web"}, 404, "no group named 'ops'"),
        ({"subject": "alice", "resource": "web"}, 400, "subject: user:NAME or group:NAME"),
        ({"subject": "user:alice", "resource": "Web"}, 400, "resource: DESTINATION"),
    ):
        response = await admin.get("/api/explain", params=params)
        assert response.status_code == status, response.text
        assert response.json()["message"].startswith(message)


async def test_it_agrees_with_the_token_endpoint(admin: httpx.AsyncClient) -> None:
    keys = await _world(admin)
    for name, key in keys.items():
        for destination in ("web", "db", "jot"):
            found = await _explain(admin, f"user:{name}", destination)
            issued = await admin.post(
                "/api/tokens", json={"destination": destination}, headers=bearer(key)
            )
            assert found["token"] == (issued.status_code == 201), (name, destination)
            if not found["token"]:
                assert issued.json()["message"] == found["reason"]


async def test_my_access_lists_every_destination_with_a_grant(admin: httpx.AsyncClient) -> None:
    keys = await _world(admin)
    mine = await admin.get("/api/my-access", headers=bearer(keys["alice"]))
    assert mine.status_code == 200, mine.text
    items = {item["destination"]: item for item in mine.json()["items"]}
    assert sorted(items) == ["db", "web"]
    assert items["web"]["roles"] == ["viewer"]
    assert items["db"]["token_groups"] == ["dev"]
    none = await admin.get("/api/my-access", headers=bearer(keys["bob"]))
    assert none.json() == {"items": []}


async def test_a_lapsed_grant_says_so(
    admin: httpx.AsyncClient, admin_key: str, started: Started, clock
) -> None:
    """A time-bound grant past its end (not yet swept) shows as lapsed, not as a grant on
    another sub-resource: in the API, the CLI's text and the console's page."""
    from jot.api.explain import Source

    await _world(admin)
    carol = {"name": "carol", "kind": "user", "password": PASSWORD}
    assert (await admin.post("/api/users", json=carol)).status_code == 201
    body = {"subject": "user:carol", "role": "admin", "resource": "jot"}
    assert (await admin.post("/api/grants", json=body)).status_code == 201
    console = await signed_in(started, "carol", PASSWORD)
    body = {"subject": "user:bob", "role": "oncall", "resource": "web", "duration": 60}
    assert (await admin.post("/api/grants", json=body)).status_code == 201
    found = await _explain(admin, "user:bob", "web.ns")
    assert [(s["applies"], s["lapsed"]) for s in found["sources"]] == [(True, False)]
    clock.advance(60)
    found = await _explain(admin, "user:bob", "web.ns")
    assert (found["token"], found["roles"]) == (False, [])
    (source,) = (Source.model_validate(s) for s in found["sources"])
    assert (source.applies, source.lapsed, source.applies_text()) == (False, True, "no (lapsed)")
    page = await console.get("/admin/explain", params={"subject": "user:bob", "resource": "web.ns"})
    assert page.status_code == 200, page.text
    assert "<td>no (lapsed)</td>" in page.text
    assert "another sub-resource" not in page.text
    other = await _explain(admin, "user:alice", "web")
    texts = {s["role"]: Source.model_validate(s).applies_text() for s in other["sources"]}
    assert texts == {"viewer": "yes", "admin": "no (another sub-resource)"}
