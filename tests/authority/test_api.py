"""The HTTP API in-process (httpx ASGI transport), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx
import jwt as pyjwt
import pytest

from jot.authority import errors
from jot.authority.clock import FakeClock

from .conftest import ISSUER, bearer

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse"


async def _setup(admin: httpx.AsyncClient, *, narrowing: str = "all") -> str:
    """alice in groups devs and ops, destination web granting devs; returns alice's key."""
    for path, body in (
        ("/api/users", {"name": "alice@example.com", "password": PASSWORD}),
        ("/api/groups", {"name": "devs"}),
        ("/api/groups", {"name": "ops"}),
        ("/api/groups/devs/members", {"name": "alice@example.com"}),
        ("/api/groups/ops/members", {"name": "alice@example.com"}),
        ("/api/destinations", {"name": "web", "lifetime": 600, "group_narrowing": narrowing}),
        ("/api/grants", {"subject": "group:devs", "role": "viewer", "resource": "web.ns1"}),
    ):
        response = await admin.post(path, json=body)
        assert response.status_code in (200, 201), (path, response.text)
    response = await admin.post(
        "/api/login", json={"name": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["access_key"])


async def _token(client: httpx.AsyncClient, key: str, destination: str = "web") -> httpx.Response:
    return await client.post("/api/tokens", json={"destination": destination}, headers=bearer(key))


async def test_token_has_exactly_the_profile(admin: httpx.AsyncClient, clock: FakeClock) -> None:
    key = await _setup(admin)
    response = await _token(admin, key)
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    header = pyjwt.get_unverified_header(token)
    assert header["typ"] == "jot+jwt"
    assert header["alg"] == "EdDSA"
    jwks = (await admin.get("/.well-known/jwks.json")).json()
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert "d" not in jwk
    assert "=" not in header["kid"]
    claims = pyjwt.decode(
        token, pyjwt.PyJWK(jwk), algorithms=["EdDSA"], audience="web", issuer=ISSUER
    )
    assert set(claims) == {
        "iss",
        "sub",
        "aud",
        "name",
        "groups",
        "iat",
        "nbf",
        "exp",
        "nonce",
        "jti",
    }
    assert claims["iat"] == int(clock.now)
    assert claims["nbf"] == claims["iat"] - 300
    assert claims["exp"] == claims["iat"] + 600
    assert claims["groups"] == ["devs", "ops"]
    again = pyjwt.decode(
        (await _token(admin, key)).json()["token"], options={"verify_signature": False}
    )
    assert again["jti"] != claims["jti"]
    assert again["nonce"] != claims["nonce"]


async def test_group_narrowing_keeps_only_granted_groups(admin: httpx.AsyncClient) -> None:
    key = await _setup(admin, narrowing="grants")
    token = (await _token(admin, key)).json()["token"]
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims["groups"] == ["devs"]


async def test_groups_come_in_code_point_order_whatever_their_characters(
    admin: httpx.AsyncClient,
) -> None:
    # Read joined in one string (access.group_names) and sorted by Python, on every database
    # alike (PostgreSQL's collation would sort "B-team" after "a.team").
    key = await _setup(admin)
    names = ["B-team", "a.team", "A:team", "z+1", "0day", "x@y.example", "a_b", "devs0"]
    for name in names:
        made = await admin.post("/api/groups", json={"name": name})
        assert made.status_code == 201, made.text
        added = await admin.post(f"/api/groups/{name}/members", json={"name": "alice@example.com"})
        assert added.is_success, added.text
    assert (await admin.post("/api/groups", json={"name": "a,b"})).status_code == 400
    whoami = (await admin.get("/api/whoami", headers=bearer(key))).json()
    assert whoami["groups"] == sorted([*names, "devs", "ops"])
    token = (await _token(admin, key)).json()["token"]
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims["groups"] == whoami["groups"]


async def test_token_needs_a_grant_and_a_known_destination(admin: httpx.AsyncClient) -> None:
    key = await _setup(admin)
    await admin.post("/api/destinations", json={"name": "db"})
    response = await _token(admin, key, "db")
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "no grant" in response.json()["message"]
    response = await _token(admin, key, "nowhere")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "no destination named 'nowhere'"}


async def test_admin_api_needs_roles(admin: httpx.AsyncClient) -> None:
    key = await _setup(admin)
    assert (await admin.get("/api/users", headers=bearer(key))).status_code == 403
    assert (await admin.get("/api/users", headers={"Authorization": ""})).status_code == 401
    response = await admin.post(
        "/api/grants", json={"subject": "user:alice@example.com", "role": "view", "resource": "jot"}
    )
    assert response.status_code == 201
    assert (await admin.get("/api/users", headers=bearer(key))).status_code == 200
    assert (
        await admin.post("/api/groups", json={"name": "x"}, headers=bearer(key))
    ).status_code == 403
    whoami = (await admin.get("/api/whoami", headers=bearer(key))).json()
    assert whoami["roles"] == ["view"]
    assert whoami["groups"] == ["devs", "ops"]


async def test_grants_etag_and_long_poll(admin: httpx.AsyncClient) -> None:
    await _setup(admin)
    first = await admin.get("/api/grants", params={"destination": "web"})
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert [g["resource"] for g in first.json()["items"]] == ["web.ns1"]
    unchanged = await admin.get(
        "/api/grants", params={"destination": "web"}, headers={"If-None-Match": etag}
    )
    assert unchanged.status_code == 304
    timed_out = await admin.get(
        "/api/grants", params={"destination": "web", "wait": 0.3}, headers={"If-None-Match": etag}
    )
    assert timed_out.status_code == 304

    async def change() -> None:
        await asyncio.sleep(0.3)
        await admin.post(
            "/api/grants",
            json={"subject": "user:alice@example.com", "role": "editor", "resource": "web"},
        )

    loop = asyncio.get_running_loop()
    started = loop.time()
    changed, _ = await asyncio.gather(
        admin.get(
            "/api/grants",
            params={"destination": "web", "wait": 10},
            headers={"If-None-Match": etag},
        ),
        change(),
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert len(changed.json()["items"]) == 2
    assert loop.time() - started < 3


async def test_machine_identity_reads_grants_with_connector_role(admin: httpx.AsyncClient) -> None:
    await _setup(admin)
    assert (
        await admin.post("/api/users", json={"name": "web-connector", "kind": "machine"})
    ).status_code == 201
    created = await admin.post(
        "/api/access-keys", json={"identity": "web-connector", "name": "connector"}
    )
    assert created.status_code == 201
    machine_key = created.json()["access_key"]
    assert (
        await admin.get("/api/grants", params={"destination": "web"}, headers=bearer(machine_key))
    ).status_code == 403
    granted = await admin.post(
        "/api/grants",
        json={"subject": "user:web-connector", "role": "connector", "resource": "jot.web"},
    )
    assert granted.status_code == 201, granted.text
    response = await admin.get(
        "/api/grants", params={"destination": "web"}, headers=bearer(machine_key)
    )
    assert response.status_code == 200
    assert (await admin.get("/api/users", headers=bearer(machine_key))).status_code == 403
    bad = await admin.post(
        "/api/users", json={"name": "m2", "kind": "machine", "password": "longenough"}
    )
    assert bad.status_code == 400


async def test_access_key_expiry_inactivity_and_revocation(
    admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    await _setup(admin)
    made = await admin.post(
        "/api/access-keys",
        json={"identity": "alice@example.com", "ttl": 3600, "inactivity_timeout": 600},
    )
    key, key_id = made.json()["access_key"], made.json()["key"]["id"]
    assert (await admin.get("/api/whoami", headers=bearer(key))).status_code == 200
    clock.advance(599)
    assert (await admin.get("/api/whoami", headers=bearer(key))).status_code == 200
    clock.advance(601)
    response = await admin.get("/api/whoami", headers=bearer(key))
    assert response.status_code == 401
    assert "inactivity" in response.json()["message"]

    made = await admin.post(
        "/api/access-keys",
        json={"identity": "alice@example.com", "ttl": 60, "inactivity_timeout": 0},
    )
    key = made.json()["access_key"]
    clock.advance(61)
    assert "expired" in (await admin.get("/api/whoami", headers=bearer(key))).json()["message"]

    made = await admin.post("/api/access-keys", json={"identity": "alice@example.com"})
    key, key_id = made.json()["access_key"], made.json()["key"]["id"]
    assert (await admin.delete(f"/api/access-keys/{key_id}")).status_code == 204
    response = await admin.get("/api/whoami", headers=bearer(key))
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]
    listed = (await admin.get("/api/access-keys", params={"identity": "alice@example.com"})).json()[
        "items"
    ]
    assert all("secret" not in k and "access_key" not in k for k in listed)


async def test_wrong_secret_and_garbage_keys_are_401(
    admin: httpx.AsyncClient, admin_key: str
) -> None:
    wrong = admin_key[:-1] + ("a" if admin_key[-1] != "a" else "b")
    for value in (wrong, "jot_ak_short", "x" * 5000, "Basic abc"):
        response = await admin.get("/api/whoami", headers={"Authorization": f"Bearer {value}"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_logout_revokes_the_key(admin: httpx.AsyncClient) -> None:
    key = await _setup(admin)
    assert (await admin.post("/api/logout", headers=bearer(key))).status_code == 204
    assert (await admin.get("/api/whoami", headers=bearer(key))).status_code == 401


async def test_login_failures_are_limited_and_audited(
    admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    await _setup(admin)
    statuses = []
    for _ in range(7):
        response = await admin.post(
            "/api/login", json={"name": "alice@example.com", "password": "wrong password"}
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[-1] == 429
    assert int(response.headers["retry-after"]) >= 1
    # Locked out even with the right password, until the back-off passes.
    locked = await admin.post(
        "/api/login", json={"name": "alice@example.com", "password": PASSWORD}
    )
    assert locked.status_code == 429
    events = (await admin.get("/api/audit", params={"kind": "login."})).json()["items"]
    kinds = [e["kind"] for e in events]
    assert kinds.count("login.failed") >= 5
    assert "login.locked" in kinds
    unknown = await admin.post("/api/login", json={"name": "nobody", "password": "whatever1"})
    assert unknown.status_code in (401, 429)


async def test_errors_are_json_and_bodies_are_strict(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/api/users", json={"name": "bob", "admin": True})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    response = await admin.post(
        "/api/users", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    response = await admin.post("/api/users", json={"name": "x" * 70000})
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    response = await admin.get("/api/nothing-here")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "message"}
    assert (await admin.post("/api/groups", json={"name": "devs"})).status_code == 201
    conflict = await admin.post("/api/groups", json={"name": "devs"})
    assert conflict.status_code == 409


async def test_delete_cascades_and_guards(admin: httpx.AsyncClient) -> None:
    await _setup(admin)
    assert (await admin.delete("/api/destinations/jot")).status_code == 400
    grants = (await admin.get("/api/grants", params={"destination": "jot"})).json()["items"]
    (admin_grant,) = grants
    assert (await admin.delete(f"/api/grants/{admin_grant['id']}")).status_code == 400
    assert (await admin.delete("/api/users/admin")).status_code == 400
    assert (await admin.delete("/api/groups/devs")).status_code == 204
    assert (await admin.get("/api/grants", params={"destination": "web"})).json()["items"] == []
    assert (await admin.delete("/api/users/alice@example.com")).status_code == 204
    assert (await admin.get("/api/users/alice@example.com")).status_code == 404
    assert (await admin.delete("/api/destinations/web")).status_code == 204


async def test_audit_records_admin_changes_and_tokens(admin: httpx.AsyncClient) -> None:
    key = await _setup(admin)
    jti = pyjwt.decode(
        (await _token(admin, key)).json()["token"], options={"verify_signature": False}
    )["jti"]
    events = (await admin.get("/api/audit", params={"limit": 1000})).json()["items"]
    kinds = {e["kind"] for e in events}
    assert {
        "bootstrap",
        "identity.created",
        "group.created",
        "grant.created",
        "login.ok",
        "token.issued",
    } <= kinds
    issued = next(e for e in events if e["kind"] == "token.issued")
    assert issued["detail"]["jti"] == jti
    assert issued["target"] == "web"
    assert issued["actor"] == "alice@example.com"


async def test_discovery_and_operations(client: httpx.AsyncClient, admin_key: str) -> None:
    config = (await client.get("/.well-known/openid-configuration")).json()
    assert config["issuer"] == ISSUER
    assert config["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    jwks = await client.get("/.well-known/jwks.json")
    assert jwks.headers["cache-control"] == "public, max-age=300"
    assert len(jwks.json()["keys"]) == 1
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.get("/metrics")).status_code == 401
    metrics = await client.get("/metrics", headers=bearer(admin_key))
    assert "jot_http_requests" in metrics.text


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
async def test_other_signing_algorithms(alg: str, settings_factory, clock: FakeClock) -> None:
    from jot.authority.app import create_app, open_authority

    started = open_authority(settings_factory(signing_alg=alg), clock=clock)
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    async with httpx.AsyncClient(
        transport=transport, base_url=ISSUER, headers=bearer(started.bootstrap_key or "")
    ) as http:
        token = (await http.post("/api/tokens", json={"destination": "jot"})).json()["token"]
        jwks = (await http.get("/.well-known/jwks.json")).json()
    started.authority.close()
    header = pyjwt.get_unverified_header(token)
    assert header["alg"] == alg
    (jwk,) = jwks["keys"]
    assert jwk["alg"] == alg
    assert jwk["kid"] == header["kid"]
    claims = pyjwt.decode(token, pyjwt.PyJWK(jwk), algorithms=[alg], audience="jot", issuer=ISSUER)
    assert claims["name"] == "admin"


async def test_the_last_admin_cannot_be_removed_through_its_group(admin: httpx.AsyncClient) -> None:
    await admin.post("/api/groups", json={"name": "admins"})
    await admin.post("/api/groups/admins/members", json={"name": "admin"})
    grant = (
        await admin.post(
            "/api/grants", json={"subject": "group:admins", "role": "admin", "resource": "jot"}
        )
    ).json()
    (direct,) = list(
        (await admin.get("/api/grants", params={"subject": "user:admin"})).json()["items"]
    )
    assert (await admin.delete(f"/api/grants/{direct['id']}")).status_code == 204
    response = await admin.delete("/api/groups/admins")
    assert response.status_code == 400
    assert "last admin grant" in response.json()["message"]
    assert (await admin.get("/api/grants", params={"subject": "group:admins"})).json()["items"][0][
        "id"
    ] == grant["id"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/destinations/{name}"),
        ("GET", "/api/users/{name}"),
        ("GET", "/api/groups/{name}"),
        ("GET", "/api/clusters/{name}"),
    ],
)
async def test_an_echoed_name_is_bounded_in_the_message(
    admin: httpx.AsyncClient, method: str, path: str
) -> None:
    name = "x" * 5_000
    answer = await admin.request(method, path.format(name=name))
    assert answer.status_code == 404, answer.text
    message = answer.json()["message"]
    assert len(message) <= errors.MAX_MESSAGE
    assert message.startswith("x" * 10) or " 'xxxx" in message  # Its start stays …
    assert " … " in message  # … the middle gives way.
