"""Issue 11 (lifecycle) and issue 15.11, in-process on SQLite and PostgreSQL: keys never
outlive the key that made them, grants follow identities (not names), a connector reads only
its own destination, and names are case-insensitive."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from jot.authority.clock import FakeClock

from .conftest import bearer

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse"
ALICE = "alice@example.com"


async def _ok(response: httpx.Response, status: int = 201) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


async def _person(admin: httpx.AsyncClient, name: str = ALICE) -> str:
    """A person with a password and a grant on ``web``; returns a login key (30 days)."""
    await _ok(await admin.post("/api/users", json={"name": name, "password": PASSWORD}))
    if (await admin.get("/api/destinations/web")).status_code == 404:
        await _ok(await admin.post("/api/destinations", json={"name": "web"}))
    grant = {"subject": f"user:{name}", "role": "viewer", "resource": "web"}
    await _ok(await admin.post("/api/grants", json=grant))
    login = await admin.post("/api/login", json={"name": name, "password": PASSWORD})
    return str((await _ok(login))["access_key"])


async def _make_key(admin: httpx.AsyncClient, key: str, **body: object) -> dict:
    body = {"identity": ALICE, **body}
    return await _ok(await admin.post("/api/access-keys", json=body, headers=bearer(key)))


async def _status(admin: httpx.AsyncClient, key: str) -> int:
    return (await admin.get("/api/whoami", headers=bearer(key))).status_code


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# Item 1: credentials never outlive the credential that made them.


async def test_a_key_made_with_a_login_key_expires_with_it(
    admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    login = await _person(admin)
    parent = next(
        k
        for k in (await admin.get("/api/access-keys", headers=bearer(login))).json()["items"]
        if k["name"] == "login"
    )
    # Asked to never expire and never idle out: it gets the login key's bounds instead.
    child = await _make_key(admin, login, ttl=0, inactivity_timeout=0)
    assert child["key"]["parent"] == parent["id"]
    assert child["key"]["expires"] == parent["expires"]
    assert child["key"]["inactivity_timeout"] == parent["inactivity_timeout"]
    shorter = await _make_key(admin, login, ttl=3600)
    assert _time(shorter["key"]["expires"]) < _time(parent["expires"])
    # A key made with the child is bounded by the child, and so on down the line.
    grandchild = await _make_key(admin, child["access_key"], ttl=0)
    assert grandchild["key"]["expires"] == parent["expires"]

    # Used every other day, so only the absolute expiry can end them: all at the login's.
    lifetime = (_time(parent["expires"]) - _time(parent["created"])).total_seconds()
    for _ in range(int(lifetime // (2 * 86400)) - 1):
        clock.advance(2 * 86400)
        for key in (login, child["access_key"], grandchild["access_key"]):
            assert await _status(admin, key) == 200
    clock.advance(2 * 86400)
    for key in (login, child["access_key"], grandchild["access_key"]):
        response = await admin.get("/api/whoami", headers=bearer(key))
        assert response.status_code == 401
        assert "expired" in response.json()["message"]


async def test_revoking_a_key_revokes_every_key_made_from_it(admin: httpx.AsyncClient) -> None:
    login = await _person(admin)
    other_login = (
        await _ok(await admin.post("/api/login", json={"name": ALICE, "password": PASSWORD}))
    )["access_key"]
    child = await _make_key(admin, login)
    grandchild = await _make_key(admin, child["access_key"])
    sibling = await _make_key(admin, other_login)

    # Revoking the child takes the grandchild, not the parent or another line.
    await _ok(await admin.delete(f"/api/access-keys/{child['key']['id']}"), 204)
    assert await _status(admin, child["access_key"]) == 401
    assert await _status(admin, grandchild["access_key"]) == 401
    assert await _status(admin, login) == 200
    assert await _status(admin, sibling["access_key"]) == 200
    events = (await admin.get("/api/audit", params={"kind": "access_key.revoked"})).json()
    assert events["items"][0]["detail"]["derived_access_keys"] == [grandchild["key"]["id"]]

    # Logging out is revoking: what was made with that login ends too.
    again = await _make_key(admin, other_login)
    await _ok(await admin.post("/api/logout", headers=bearer(other_login)), 204)
    assert await _status(admin, again["access_key"]) == 401
    assert await _status(admin, sibling["access_key"]) == 401
    assert await _status(admin, login) == 200


async def test_a_revoked_key_cannot_make_keys(admin: httpx.AsyncClient) -> None:
    login = await _person(admin)
    child = await _make_key(admin, login)
    await _ok(await admin.post("/api/logout", headers=bearer(login)), 204)
    refused = await admin.post(
        "/api/access-keys", json={"identity": ALICE}, headers=bearer(child["access_key"])
    )
    assert refused.status_code == 401


async def test_an_admins_key_for_another_identity_stands_alone(
    admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A machine's key must not die when the admin who made it logs out or their login
    expires; it is the machine's credential, and only an admin can make it."""
    await _person(admin, "root@example.com")
    await _ok(
        await admin.post(
            "/api/grants",
            json={"subject": "user:root@example.com", "role": "admin", "resource": "jot"},
        )
    )
    root = (
        await _ok(
            await admin.post("/api/login", json={"name": "root@example.com", "password": PASSWORD})
        )
    )["access_key"]
    await _ok(await admin.post("/api/users", json={"name": "ci", "kind": "machine"}))
    machine = await _ok(
        await admin.post(
            "/api/access-keys",
            json={"identity": "ci", "ttl": 0, "inactivity_timeout": 0},
            headers=bearer(root),
        )
    )
    assert machine["key"]["parent"] is None
    assert machine["key"]["expires"] is None
    await _ok(await admin.post("/api/logout", headers=bearer(root)), 204)
    clock.advance(40 * 86400)
    assert await _status(admin, machine["access_key"]) == 200
    # A person cannot make keys for anyone else, whether the name exists or not.
    alice = await _person(admin)
    for name in ("ci", "nobody"):
        refused = await admin.post(
            "/api/access-keys", json={"identity": name}, headers=bearer(alice)
        )
        assert refused.status_code == 403


async def test_a_password_change_can_revoke_the_other_keys(admin: httpx.AsyncClient) -> None:
    login = await _person(admin)
    thief = (await _ok(await admin.post("/api/login", json={"name": ALICE, "password": PASSWORD})))[
        "access_key"
    ]
    planted = await _make_key(admin, thief, ttl=0)
    mine = await _make_key(admin, login)

    change = {"current": PASSWORD, "new": "battery staple"}
    await _ok(await admin.post("/api/password", json=change, headers=bearer(login)), 204)
    assert await _status(admin, thief) == 200  # Without the flag, keys stay (as before).

    change = {"current": "battery staple", "new": "a third one", "revoke_other_keys": True}
    await _ok(await admin.post("/api/password", json=change, headers=bearer(login)), 204)
    assert await _status(admin, login) == 200
    for key in (thief, planted["access_key"], mine["access_key"]):
        assert await _status(admin, key) == 401
    events = (await admin.get("/api/audit", params={"kind": "identity.password_changed"})).json()
    assert len(events["items"][0]["detail"]["revoked_access_keys"]) == 3


async def test_an_admin_password_reset_can_revoke_every_key(admin: httpx.AsyncClient) -> None:
    login = await _person(admin)
    body = {"password": "new password", "revoke_access_keys": True}
    await _ok(await admin.patch(f"/api/users/{ALICE}", json=body), 200)
    assert await _status(admin, login) == 401
    assert await _status(admin, "") == 401
    # The admin's own key survives a reset of the admin's own keys.
    await _ok(await admin.patch("/api/users/admin", json={"revoke_access_keys": True}), 200)
    assert (await admin.get("/api/whoami")).status_code == 200


# Item 2: grants bind to identities, not to names.


async def test_a_rename_carries_grants_and_a_new_holder_of_the_name_gets_none(
    admin: httpx.AsyncClient,
) -> None:
    login = await _person(admin)
    await _ok(await admin.post("/api/groups", json={"name": "devs"}))
    await _ok(await admin.post("/api/groups/devs/members", json={"name": ALICE}), 200)
    renamed = await _ok(
        await admin.patch(f"/api/users/{ALICE}", json={"name": "alice.b@example.com"}), 200
    )
    assert renamed["groups"] == ["devs"]
    grants = (await admin.get("/api/grants", params={"destination": "web"})).json()["items"]
    assert [g["subject"] for g in grants] == ["user:alice.b@example.com"]
    token = await admin.post("/api/tokens", json={"destination": "web"}, headers=bearer(login))
    assert token.status_code == 201

    # Someone else gets the old address: nothing of alice's comes with it.
    await _ok(await admin.post("/api/users", json={"name": ALICE, "password": PASSWORD}))
    newcomer = (
        await _ok(await admin.post("/api/login", json={"name": ALICE, "password": PASSWORD}))
    )["access_key"]
    denied = await admin.post("/api/tokens", json={"destination": "web"}, headers=bearer(newcomer))
    assert denied.status_code == 403
    assert (await admin.get(f"/api/users/{ALICE}")).json()["groups"] == []
    mine = await admin.get("/api/grants", params={"subject": f"user:{ALICE}"})
    assert mine.json()["items"] == []

    # Renaming onto a taken name (in any case) is refused.
    taken = await admin.patch("/api/users/alice.b@example.com", json={"name": "ALICE@example.com"})
    assert taken.status_code == 409


async def test_deleting_an_identity_takes_its_grants_with_it(admin: httpx.AsyncClient) -> None:
    await _person(admin)
    await _ok(await admin.delete(f"/api/users/{ALICE}"), 204)
    await _ok(await admin.post("/api/users", json={"name": ALICE}))
    assert (await admin.get("/api/grants", params={"destination": "web"})).json()["items"] == []


# Item 11: a connector reads the grants of its own destination only.


async def _connector(admin: httpx.AsyncClient, *resources: str) -> str:
    await _ok(await admin.post("/api/users", json={"name": "web-connector", "kind": "machine"}))
    for resource in resources:
        grant = {"subject": "user:web-connector", "role": "connector", "resource": resource}
        await _ok(await admin.post("/api/grants", json=grant))
    made = await admin.post("/api/access-keys", json={"identity": "web-connector"})
    return str((await _ok(made))["access_key"])


async def test_a_connector_reads_only_its_own_destination(admin: httpx.AsyncClient) -> None:
    await _person(admin)
    await _ok(await admin.post("/api/destinations", json={"name": "db"}))
    key = await _connector(admin, "jot.web")
    headers = bearer(key)

    mine = await admin.get("/api/grants", params={"destination": "web"}, headers=headers)
    assert mine.status_code == 200
    assert [g["subject"] for g in mine.json()["items"]] == [f"user:{ALICE}"]
    for params in ({"destination": "db"}, {"destination": "jot"}, {}):
        other = await admin.get("/api/grants", params=params, headers=headers)
        assert other.status_code == 403, params
        assert "connector" in other.json()["message"]
    listed = (await admin.get("/api/destinations", headers=headers)).json()["items"]
    assert [d["name"] for d in listed] == ["web"]
    assert (await admin.get("/api/destinations/web", headers=headers)).status_code == 200
    assert (await admin.get("/api/destinations/db", headers=headers)).status_code == 403
    assert (await admin.get("/api/users", headers=headers)).status_code == 403


async def test_connector_grants_name_one_destination(admin: httpx.AsyncClient) -> None:
    await _person(admin)
    key = await _connector(admin)
    for resource, role, status in (
        ("jot", "connector", 400),  # Would read every destination: refused.
        ("jot.web", "admin", 400),
        ("jot.nowhere", "connector", 404),
        ("jot.jot", "connector", 404),
    ):
        grant = {"subject": "user:web-connector", "role": role, "resource": resource}
        response = await admin.post("/api/grants", json=grant)
        assert response.status_code == status, (resource, response.text)
    # A destination that goes takes its connector grants with it: a new "web" later does not
    # hand its grants to the old one's connector.
    grant = {"subject": "user:web-connector", "role": "connector", "resource": "jot.web"}
    await _ok(await admin.post("/api/grants", json=grant))
    await _ok(await admin.delete("/api/destinations/web"), 204)
    await _ok(await admin.post("/api/destinations", json={"name": "web"}))
    again = await admin.get("/api/grants", params={"destination": "web"}, headers=bearer(key))
    assert again.status_code == 403


# Issue 15.11: names are case-insensitive.


async def test_names_of_identities_and_groups_are_case_insensitive(
    admin: httpx.AsyncClient,
) -> None:
    await _ok(
        await admin.post("/api/users", json={"name": "BOB@Example.com", "password": PASSWORD})
    )
    clash = await admin.post("/api/users", json={"name": "bob@example.com"})
    assert clash.status_code == 409
    assert "BOB@Example.com" in clash.json()["message"]
    login = await admin.post("/api/login", json={"name": "bob@EXAMPLE.com", "password": PASSWORD})
    assert (await _ok(login))["identity"] == "BOB@Example.com"

    await _ok(await admin.post("/api/groups", json={"name": "Admins"}))
    assert (await admin.post("/api/groups", json={"name": "admins"})).status_code == 409
    group = await _ok(
        await admin.post("/api/groups/ADMINS/members", json={"name": "bob@example.com"}), 200
    )
    assert group["members"] == ["BOB@Example.com"]
    await _ok(await admin.post("/api/destinations", json={"name": "web"}))
    for subject in ("user:bob@example.com", "group:admins"):
        grant = {"subject": subject, "role": "viewer", "resource": "web"}
        await _ok(await admin.post("/api/grants", json=grant))
    grants = (await admin.get("/api/grants", params={"subject": "user:Bob@Example.COM"})).json()
    assert [g["subject"] for g in grants["items"]] == ["user:BOB@Example.com"]
    assert (await admin.get("/api/users/bob@example.com")).json()["name"] == "BOB@Example.com"
    await _ok(await admin.delete("/api/groups/admins/members/bob@example.com"), 204)
    await _ok(await admin.delete("/api/users/Bob@example.com"), 204)


def test_the_rules_hold_for_derived_bounds() -> None:
    """:func:`jot.authority.lineage.bounded` on its own: ``None`` means never."""
    from jot.authority.lineage import bounded
    from jot.authority.models import AccessKey

    soon = datetime(2030, 1, 1).astimezone()
    later = soon + timedelta(days=1)
    parent = AccessKey(expires=soon, inactivity_timeout=600)
    assert bounded(parent, None, None) == (soon, 600)
    assert bounded(parent, later, 60) == (soon, 60)
    open_parent = AccessKey(expires=None, inactivity_timeout=None)
    assert bounded(open_parent, None, None) == (None, None)
    assert bounded(open_parent, later, 60) == (later, 60)


def test_a_key_made_while_its_parent_is_revoked_is_revoked_too(db_url: str) -> None:
    """The race: a key is being made from P (P locked, child written, not yet committed)
    when P is revoked. The revocation must wait and then find the child."""
    import threading

    from jot.authority import lineage
    from jot.authority.db import Database, migrate
    from jot.authority.models import AccessKey, Identity

    db = Database(db_url)
    migrate(db)
    now = datetime(2030, 1, 1).astimezone()

    def key(id_: str, parent: str | None = None) -> AccessKey:
        return AccessKey(
            id=id_, identity_id="i1", name="k", secret_hash="x", created=now, last_used=now,
            parent_id=parent, origin_id=parent,
        )  # fmt: skip

    with db.transaction() as session:
        session.add(Identity(id="i1", name="p@example.com", kind="user", created=now, updated=now))
        session.flush()
        session.add(key("parent"))
    locked, release = threading.Event(), threading.Event()

    def make_child() -> None:
        with db.transaction() as session:
            assert session.get(AccessKey, "parent", with_for_update=True) is not None
            session.add(key("child", "parent"))
            session.flush()
            locked.set()
            release.wait(10)

    maker = threading.Thread(target=make_child)
    maker.start()
    assert locked.wait(10)
    result: list[str] = []

    def revoke() -> None:
        with db.transaction() as session:
            result.extend(lineage.revoke(session, ["parent"], now))

    revoker = threading.Thread(target=revoke)
    revoker.start()
    revoker.join(0.5)
    assert revoker.is_alive()  # Waiting for the maker's lock, not racing past it.
    release.set()
    maker.join(10)
    revoker.join(10)
    db.dispose()
    assert result == ["child", "parent"]
