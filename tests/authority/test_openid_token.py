"""jot as an OpenID provider, the back channel: client registration, the discovery document,
the token endpoint (codes, PKCE, refresh, client authentication) and userinfo.

Codes are made here with :func:`jot.authority.openid.codes.issue`, as the authorization
endpoint makes them (tests/web cover the browser side), and the browser session behind them
is the seam :func:`jot.authority.openid.signin.session_end`.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt as pyjwt
import pytest

from jot.authority.app import Started
from jot.authority.clock import FakeClock, to_datetime
from jot.authority.models import Destination, Identity
from jot.authority.openid import codes, signin
from jot.jose import jwk
from jot.jose import jwt as jot_jwt

from .conftest import ISSUER

pytestmark = pytest.mark.anyio

CALLBACK = "https://web.example/cb"
TOKEN = "/oidc/token"


@pytest.fixture(autouse=True)
def live_session(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime | None]:
    """The browser session behind every code: alive until the test ends it."""
    state: dict[str, datetime | None] = {"ends": datetime.now(UTC) + timedelta(days=1)}
    monkeypatch.setattr(signin, "session_end", lambda _s, _id, _now: state["ends"])
    return state


async def _setup(admin: httpx.AsyncClient, **oidc: Any) -> dict[str, Any]:
    """alice (groups devs, ops) with a grant on web through devs; web registered."""
    spec = {"redirect_uris": [CALLBACK], **oidc}
    for path, body in (
        ("/api/users", {"name": "alice@example.com", "password": "correct horse"}),
        ("/api/groups", {"name": "devs"}),
        ("/api/groups", {"name": "ops"}),
        ("/api/groups/devs/members", {"name": "alice@example.com"}),
        ("/api/groups/ops/members", {"name": "alice@example.com"}),
        ("/api/destinations", {"name": "web", "oidc": spec}),
        ("/api/destinations", {"name": "db", "oidc": {"redirect_uris": [CALLBACK]}}),
        ("/api/grants", {"subject": "group:devs", "role": "viewer", "resource": "web"}),
        ("/api/grants", {"subject": "group:devs", "role": "viewer", "resource": "db"}),
    ):
        response = await admin.post(path, json=body)
        assert response.status_code in (200, 201), (path, response.text)
        if path == "/api/destinations":
            made = response.json()
            if made["name"] == "web":
                registered = made["oidc"]
            else:
                db_secret = made["oidc"]["client_secret"]
    return {**registered, "db_secret": db_secret}


def _code(
    started: Started,
    *,
    client: str = "web",
    challenge: str | None = None,
    nonce: str | None = "n-0S6_WzA2Mj",
    redirect: str = CALLBACK,
) -> str:
    authority = started.authority
    now = to_datetime(authority.clock())
    with authority.db.transaction(write=True) as session:
        destination = session.query(Destination).filter_by(name=client).one()
        alice = session.query(Identity).filter_by(name="alice@example.com").one()
        return codes.issue(
            session,
            destination_id=destination.id,
            identity_id=alice.id,
            session_id="s1",
            redirect_uri=redirect,
            challenge=challenge,
            nonce=nonce,
            scope="openid profile",
            auth_time=now,
            now=now,
        )


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def _redeem(client: httpx.AsyncClient, code: str, secret: str | None, **extra: str):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **extra}
    headers = _basic(extra.pop("client_id", "web"), secret) if secret else {}
    return await client.post(TOKEN, data=form, headers=headers)


async def _events(admin: httpx.AsyncClient, kind: str) -> list[dict[str, Any]]:
    events = (await admin.get("/api/audit", params={"limit": 200})).json()["items"]
    return [e for e in events if e["kind"] == kind]


async def _jwks(client: httpx.AsyncClient) -> pyjwt.PyJWKSet:
    return pyjwt.PyJWKSet.from_dict((await client.get("/.well-known/jwks.json")).json())


async def test_registration_shows_the_secret_once(admin: httpx.AsyncClient) -> None:
    made = await _setup(admin)
    assert made["client_id"] == "web"
    assert made["auth_method"] == "client_secret_basic"
    assert made["client_secret"].startswith("jot_cs_")
    shown = (await admin.get("/api/destinations/web")).json()["oidc"]
    assert shown["client_secret"] is None
    assert shown["redirect_uris"] == [CALLBACK]
    listed = {d["name"]: d["oidc"] for d in (await admin.get("/api/destinations")).json()["items"]}
    assert listed["web"]["redirect_uris"] == [CALLBACK]
    assert listed["jot"] is None
    renewed = await admin.patch("/api/destinations/web", json={"new_client_secret": True})
    assert renewed.json()["oidc"]["client_secret"] not in (None, made["client_secret"])
    removed = await admin.patch("/api/destinations/web", json={"remove_oidc": True})
    assert removed.json()["oidc"] is None
    kinds = {e["kind"] for e in (await admin.get("/api/audit")).json()["items"]}
    assert {
        "destination.oidc_registered",
        "destination.oidc_secret_changed",
        "destination.oidc_removed",
    } <= kinds


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"redirect_uris": ["http://web.example/cb"]}, "must use https"),
        ({"redirect_uris": ["https://web.example/cb#x"]}, "redirect_uris"),
        ({"redirect_uris": []}, "redirect_uris"),
        ({"redirect_uris": [CALLBACK], "auth_method": "none", "jwks": {"keys": []}}, "jwks"),
        ({"redirect_uris": [CALLBACK], "auth_method": "private_key_jwt"}, "jwks"),
        (
            {
                "redirect_uris": [CALLBACK],
                "auth_method": "private_key_jwt",
                "jwks": {"keys": [jwk.generate("Ed25519", kid="k").to_dict(private=True)]},
            },
            "public keys only",
        ),
    ],
)
async def test_bad_registrations_are_refused(
    admin: httpx.AsyncClient, spec: dict[str, Any], message: str
) -> None:
    response = await admin.post("/api/destinations", json={"name": "web", "oidc": spec})
    assert response.status_code in (400, 422), response.text
    assert message in response.text
    assert (await admin.get("/api/destinations/web")).status_code == 404
    jot = await admin.patch("/api/destinations/jot", json={"oidc": {"redirect_uris": [CALLBACK]}})
    assert jot.status_code == 400


async def test_discovery_lists_what_is_supported(client: httpx.AsyncClient) -> None:
    config = (await client.get("/.well-known/openid-configuration")).json()
    assert config["issuer"] == ISSUER
    assert config["authorization_endpoint"] == f"{ISSUER}/oidc/authorize"
    assert config["token_endpoint"] == f"{ISSUER}{TOKEN}"
    assert config["userinfo_endpoint"] == f"{ISSUER}/oidc/userinfo"
    assert config["response_types_supported"] == ["code"]
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert set(config["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    }
    assert config["id_token_signing_alg_values_supported"] == ["EdDSA"]
    assert config["prompt_values_supported"] == ["none", "login", "consent"]


async def test_code_flow_gives_a_jot_an_id_token_and_a_refresh_token(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, started: Started, clock: FakeClock
) -> None:
    secret = (await _setup(admin))["client_secret"]
    verifier = secrets.token_urlsafe(48)
    code = _code(started, challenge=codes.s256(verifier))
    answer = await _redeem(client, code, secret, code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer"
    keys = await _jwks(client)
    access = body["access_token"]
    assert pyjwt.get_unverified_header(access)["typ"] == "jot+jwt"
    claims = pyjwt.decode(
        access,
        keys[pyjwt.get_unverified_header(access)["kid"]],
        algorithms=["EdDSA"],
        audience="web",
        issuer=ISSUER,
    )
    assert claims["name"] == "alice@example.com"
    assert body["expires_in"] == 300
    id_token = body["id_token"]
    assert pyjwt.get_unverified_header(id_token)["typ"] == "JWT"
    profile = pyjwt.decode(
        id_token,
        keys[pyjwt.get_unverified_header(id_token)["kid"]],
        algorithms=["EdDSA"],
        audience="web",
        issuer=ISSUER,
    )
    assert profile["sub"] == claims["sub"]
    assert profile["nonce"] == "n-0S6_WzA2Mj"
    assert profile["exp"] - profile["iat"] == 300
    assert profile["auth_time"] == int(clock.now)
    assert profile["groups"] == ["devs"]  # Narrowed: no grant on web names ops.
    assert "at_hash" not in profile  # EdDSA has no agreed at_hash hash.
    # The access token is a jot: userinfo takes it, and so would the destination.
    info = await client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert info.json() == {
        "sub": claims["sub"],
        "name": "alice@example.com",
        "preferred_username": "alice@example.com",
        "groups": ["devs"],
    }
    # An ID token is not an access token (typ), nor the other way round at userinfo.
    bad = await client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {id_token}"})
    assert bad.status_code == 401
    clock.advance(240)
    refreshed = await client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        headers=_basic("web", secret),
    )
    assert refreshed.status_code == 200, refreshed.text
    again = pyjwt.decode(refreshed.json()["id_token"], options={"verify_signature": False})
    assert "nonce" not in again
    assert again["auth_time"] == profile["auth_time"]
    assert refreshed.json()["refresh_token"] == body["refresh_token"]
    issued = await _events(admin, "openid.token.issued")
    assert [e["detail"]["grant_type"] for e in issued] == ["refresh_token", "authorization_code"]


async def test_a_refresh_checks_the_grant_and_the_sign_in_again(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, started: Started, live_session
) -> None:
    secret = (await _setup(admin))["client_secret"]
    body = (await _redeem(client, _code(started), secret)).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    grants = (await admin.get("/api/grants", params={"destination": "web"})).json()["items"]
    assert (await admin.delete(f"/api/grants/{grants[0]['id']}")).status_code == 204
    refused = await client.post(TOKEN, data=refresh, headers=_basic("web", secret))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert "no grant" in refused.json()["error_description"]
    await admin.post(
        "/api/grants", json={"subject": "group:devs", "role": "viewer", "resource": "web"}
    )
    assert (
        await client.post(TOKEN, data=refresh, headers=_basic("web", secret))
    ).status_code == 200
    live_session["ends"] = None  # Signed out at the authority.
    ended = await client.post(TOKEN, data=refresh, headers=_basic("web", secret))
    assert ended.json()["error"] == "invalid_grant"
    reasons = [e["detail"]["reason"] for e in await _events(admin, "openid.token.refused")]
    assert reasons == ["signed_out", "no_grant"]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong_verifier", "pkce_mismatch"),
        ("missing_verifier", "pkce_missing"),
        ("verifier_without_challenge", "pkce"),
        ("replay", "code_replayed"),
        ("other_client", "wrong_client"),
        ("other_redirect", "redirect_mismatch"),
        ("expired", "code_expired"),
        ("unknown", "unknown_code"),
    ],
)
async def test_bad_codes_are_refused_and_audited(
    admin: httpx.AsyncClient,
    client: httpx.AsyncClient,
    started: Started,
    clock: FakeClock,
    case: str,
    reason: str,
) -> None:
    made = await _setup(admin)
    secret = made["client_secret"]
    verifier = secrets.token_urlsafe(48)
    challenge = None if case == "verifier_without_challenge" else codes.s256(verifier)
    code = _code(started, challenge=challenge)
    extra = {"code_verifier": verifier}
    if case == "wrong_verifier":
        extra["code_verifier"] = secrets.token_urlsafe(48)
    elif case == "missing_verifier":
        extra = {}
    elif case == "replay":
        first = await _redeem(client, code, secret, **extra)
        assert first.status_code == 200
    elif case == "other_redirect":
        extra["redirect_uri"] = CALLBACK + "/other"
    elif case == "expired":
        clock.advance(61)
    elif case == "unknown":
        code = secrets.token_urlsafe(32)
    if case == "other_client":
        answer = await _redeem(client, code, made["db_secret"], client_id="db", **extra)
    else:
        answer = await _redeem(client, code, secret, **extra)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_grant"
    refused = await _events(admin, "openid.token.refused")
    assert [e["detail"]["reason"] for e in refused] == [reason]
    if case == "replay":  # What the first redemption made ends with the replay.
        handle = first.json()["refresh_token"]
        again = await client.post(
            TOKEN,
            data={"grant_type": "refresh_token", "refresh_token": handle},
            headers=_basic("web", secret),
        )
        assert again.json()["error"] == "invalid_grant"
    # Whatever went wrong, the code is spent: the right request cannot use it afterwards.
    retry = await _redeem(client, code, secret, code_verifier=verifier)
    assert retry.status_code == 400


async def test_client_authentication(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, started: Started
) -> None:
    secret = (await _setup(admin))["client_secret"]
    wrong = await _redeem(client, _code(started), "jot_cs_" + "x" * 43)
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    none = await _redeem(client, _code(started), None, client_id="web")
    assert none.status_code == 401
    two = await _redeem(client, _code(started), secret, client_secret=secret)
    assert two.status_code == 400
    assert two.json()["error"] == "invalid_request"
    posted = await _redeem(client, _code(started), None, client_id="web", client_secret=secret)
    assert posted.status_code == 200, posted.text
    nobody = await _redeem(client, _code(started), "x", client_id="nobody")
    assert nobody.status_code == 401
    form = await client.post(
        TOKEN,
        content=b"grant_type=x&grant_type=y",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 400
    json_body = await client.post(TOKEN, json={"grant_type": "authorization_code"})
    assert json_body.status_code == 400
    unsupported = await client.post(
        TOKEN,
        data={"grant_type": "password", "username": "a", "password": "b"},
        headers=_basic("web", secret),
    )
    assert unsupported.json()["error"] == "unsupported_grant_type"
    refused = await _events(admin, "openid.token.refused")
    assert {e["detail"]["reason"] for e in refused} >= {"bad_secret", "wrong_method"}


async def test_public_clients_get_no_refresh_token(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, started: Started
) -> None:
    made = await _setup(admin, auth_method="none")
    assert made["client_secret"] is None
    verifier = secrets.token_urlsafe(48)
    code = _code(started, challenge=codes.s256(verifier))
    answer = await _redeem(client, code, None, client_id="web", code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    assert "refresh_token" not in answer.json()
    # A public client cannot pretend to have a secret, nor use one it never had.
    posing = await _redeem(client, _code(started), "jot_cs_x", code_verifier=verifier)
    assert posing.status_code == 401


def _assertion(
    key: jwk.Key, *, jti: str | None = None, aud: str = f"{ISSUER}{TOKEN}", life: int = 60
) -> str:
    now = int(time.time())
    claims = {
        "iss": "web",
        "sub": "web",
        "aud": aud,
        "iat": now,
        "exp": now + life,
        "jti": jti or secrets.token_urlsafe(16),
    }
    return jot_jwt.encode(claims, key)


async def test_private_key_jwt(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, started: Started, clock: FakeClock
) -> None:
    clock.now = float(int(time.time()))
    key = jwk.generate("P-256", alg="ES256", kid="web-1")
    other = jwk.generate("P-256", alg="ES256", kid="web-1")
    jwks = {"keys": [key.public().to_dict()]}
    made = await _setup(admin, auth_method="private_key_jwt", jwks=jwks)
    assert made["key_ids"] == ["web-1"]
    kind = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    async def redeem(assertion: str):
        return await _redeem(
            client, _code(started), None, client_assertion_type=kind, client_assertion=assertion
        )

    once = _assertion(key)
    assert (await redeem(once)).status_code == 200
    assert (await redeem(once)).status_code == 401  # Replayed jti.
    assert (await redeem(_assertion(other))).status_code == 401  # Another key.
    assert (await redeem(_assertion(key, aud="https://elsewhere"))).status_code == 401
    assert (await redeem(_assertion(key, life=3600))).status_code == 401
    assert (await redeem(_assertion(key, aud=ISSUER))).status_code == 200
    # Failed client authentication is anonymous traffic: repeats within a minute are folded.
    reasons = [e["detail"]["reason"] for e in await _events(admin, "openid.token.refused")]
    assert reasons == ["assertion_replayed"]


async def test_userinfo_refuses_what_it_should(
    admin: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await _setup(admin)
    assert (await client.get("/oidc/userinfo")).status_code == 401
    alice = (
        await admin.post(
            "/api/login", json={"name": "alice@example.com", "password": "correct horse"}
        )
    ).json()
    # A jot for a destination that is not an OpenID client is not a userinfo token.
    await admin.post("/api/destinations", json={"name": "plain"})
    await admin.post(
        "/api/grants", json={"subject": "group:devs", "role": "v", "resource": "plain"}
    )
    token = (
        await client.post(
            "/api/tokens",
            json={"destination": "plain"},
            headers={"Authorization": f"Bearer {alice['access_key']}"},
        )
    ).json()
    plain = await client.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {token['token']}"}
    )
    assert plain.status_code == 401
    garbage = await client.get("/oidc/userinfo", headers={"Authorization": "Bearer a.b.c"})
    assert garbage.status_code == 401
    assert json.loads(garbage.text)["error"] == "invalid_token"
