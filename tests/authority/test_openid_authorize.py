"""jot as an OpenID provider, the front channel: the authorization endpoint, and a relying
party that no one here wrote (authlib's OAuth 2 client) signing in through it.

Who is signed in comes through the seam :func:`jot.authority.openid.signin.signed_in` (the
browser session itself is tested with a real browser in tests/e2e).
"""

from __future__ import annotations

import html
import re
import secrets
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

# authlib warns that it will move to httpx2 and joserfc; its client works as it is. Its
# deprecate module sets an "always" filter when imported: imported first, then overridden.
import authlib.deprecate  # noqa: F401
import httpx
import pytest
from joserfc.errors import InvalidClaimError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.jose import JsonWebKey
    from authlib.jose import jwt as authlib_jwt
    from authlib.oidc.core import CodeIDToken

from jot.authority.app import Started, create_app
from jot.authority.models import Identity
from jot.authority.openid import signin

from .conftest import ISSUER

pytestmark = pytest.mark.anyio

CALLBACK = "https://web.example/cb"
AUTHORIZE = f"{ISSUER}/oidc/authorize"


@pytest.fixture
def who(monkeypatch: pytest.MonkeyPatch, started: Started) -> dict[str, Any]:
    """Who the browser is signed in as (``name`` None: nobody)."""
    state: dict[str, Any] = {"name": None, "since": datetime.now(UTC)}

    def signed_in(_request: Any) -> signin.SignedIn | None:
        if state["name"] is None:
            return None
        with started.authority.db.transaction(write=False) as session:
            found = session.query(Identity).filter_by(name=state["name"]).one()
        return signin.SignedIn(
            found.id, "session-1", state["since"], state["since"] + timedelta(hours=8)
        )

    monkeypatch.setattr(signin, "signed_in", signed_in)
    monkeypatch.setattr(
        signin, "session_end", lambda _s, sid, _now: state["since"] + timedelta(hours=8)
    )
    return state


async def _setup(admin: httpx.AsyncClient) -> dict[str, str]:
    secrets_by_client = {}
    for path, body in (
        ("/api/users", {"name": "alice@example.com"}),
        ("/api/users", {"name": "carol@example.com"}),
        ("/api/groups", {"name": "devs"}),
        ("/api/groups/devs/members", {"name": "alice@example.com"}),
        ("/api/destinations", {"name": "web", "oidc": {"redirect_uris": [CALLBACK]}}),
        (
            "/api/destinations",
            {"name": "spa", "oidc": {"redirect_uris": [CALLBACK], "auth_method": "none"}},
        ),
        ("/api/grants", {"subject": "group:devs", "role": "viewer", "resource": "web"}),
        ("/api/grants", {"subject": "group:devs", "role": "viewer", "resource": "spa.app"}),
    ):
        response = await admin.post(path, json=body)
        assert response.status_code in (200, 201), (path, response.text)
        if path == "/api/destinations":
            secrets_by_client[body["name"]] = response.json()["oidc"]["client_secret"]
    return secrets_by_client


def _query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def _authorize(client: httpx.AsyncClient, **params: str) -> httpx.Response:
    base = {"client_id": "web", "redirect_uri": CALLBACK, "response_type": "code",
            "scope": "openid profile", "state": "st-1", "nonce": "no-1"}  # fmt: skip
    return await client.get("/oidc/authorize", params={**base, **params})


async def test_signing_in_first_and_then_a_code(admin: httpx.AsyncClient, who) -> None:
    await _setup(admin)
    first = await _authorize(admin)
    assert first.status_code == 303
    target = urlsplit(first.headers["location"])
    assert target.path == "/sign-in"
    back = parse_qs(target.query)["next"][0]
    assert back.startswith("/oidc/authorize?")
    assert "state=st-1" in back
    who["name"] = "alice@example.com"
    again = await admin.get(back)
    # After the sign-in form, a page moves on by itself (the sign-in page's CSP form-action
    # 'self' would stop a redirect to the client): a meta refresh and a link.
    assert again.status_code == 200
    found = re.search(r"content='0;url=([^']+)'", again.text)
    assert found is not None
    location = html.unescape(found.group(1))
    assert location.startswith(CALLBACK + "?")
    assert f"href='{found.group(1)}'" in again.text
    answer = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert set(answer) == {"code", "state", "iss"}
    assert answer["state"] == "st-1"
    assert answer["iss"] == ISSUER
    kinds = [e["kind"] for e in (await admin.get("/api/audit")).json()["items"]]
    assert "openid.code.issued" in kinds


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"client_id": "nobody"}, "not registered with jot"),
        ({"redirect_uri": "https://evil.example/cb"}, "redirect URI is not registered"),
        ({"redirect_uri": CALLBACK + "/"}, "redirect URI is not registered"),
        ({"redirect_uri": ""}, "redirect URI is not registered"),
    ],
)
async def test_an_unchecked_redirect_uri_is_never_followed(
    admin: httpx.AsyncClient, who, params: dict[str, str], text: str
) -> None:
    await _setup(admin)
    who["name"] = "alice@example.com"
    response = await _authorize(admin, **params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert text in response.text
    refused = [e for e in (await admin.get("/api/audit")).json()["items"]
               if e["kind"] == "openid.authorize.refused"]  # fmt: skip
    assert len(refused) == 1


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
        ({"code_challenge": "x" * 43 + "\n", "code_challenge_method": "S256"}, "invalid_request"),
        ({"request": "eyJ..."}, "request_not_supported"),
        ({"prompt": "select_account"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"client_id": "spa"}, "invalid_request"),  # A public client without PKCE.
    ],
)
async def test_bad_requests_go_back_as_errors(
    admin: httpx.AsyncClient, who, params: dict[str, str], error: str
) -> None:
    await _setup(admin)
    who["name"] = "alice@example.com"
    answer = _query(await _authorize(admin, **params))
    assert answer["error"] == error
    assert answer["state"] == "st-1"
    assert "code" not in answer


async def test_prompt_none_and_no_grant(admin: httpx.AsyncClient, who) -> None:
    await _setup(admin)
    assert _query(await _authorize(admin, prompt="none"))["error"] == "login_required"
    who["name"] = "carol@example.com"
    page = await _authorize(admin)
    assert page.status_code == 403
    assert "carol@example.com has no access to web" in page.text
    assert "location" not in page.headers
    denied = [e for e in (await admin.get("/api/audit")).json()["items"]
              if e["kind"] == "openid.authorize.denied"]  # fmt: skip
    assert denied[0]["detail"]["reason"] == "no_grant"


def _fresh_sign_in(response: httpx.Response) -> str:
    """The sign-in page asked for although a session is live: its ``next``."""
    assert response.status_code == 303, response.text
    target = urlsplit(response.headers["location"])
    assert target.path == "/sign-in"
    query = parse_qs(target.query)
    assert query["again"] == ["1"]
    return query["next"][0]


async def test_prompt_login_asks_for_a_fresh_sign_in(
    admin: httpx.AsyncClient, started: Started, who
) -> None:
    made = await _setup(admin)
    who["name"] = "alice@example.com"
    who["since"] = datetime.now(UTC) - timedelta(minutes=30)
    back = _fresh_sign_in(await _authorize(admin, prompt="login"))
    assert "prompt=login" in back
    # Back without a new sign-in (the same session): sent to sign in again, no code.
    assert _fresh_sign_in(await admin.get(back)).startswith("/oidc/authorize?")
    # A new sign-in: the code comes, and the ID token's auth_time is the new sign-in's.
    who["since"] = datetime.now(UTC) + timedelta(seconds=1)
    again = await admin.get(back)
    found = re.search(r"content='0;url=([^']+)'", again.text)
    assert found is not None, again.text
    code = parse_qs(urlsplit(html.unescape(found.group(1))).query)["code"][0]
    claims = await _id_token(admin, code, made["web"])
    assert claims["auth_time"] == int(who["since"].timestamp())
    # prompt=none cannot ask for a sign-in: login_required goes back to the client.
    who["since"] = datetime.now(UTC) - timedelta(seconds=10)
    assert _query(await _authorize(admin, prompt="none", max_age="0"))["error"] == (
        "login_required"
    )


async def test_max_age_asks_for_a_fresh_sign_in_only_when_older(
    admin: httpx.AsyncClient, who
) -> None:
    made = await _setup(admin)
    who["name"] = "alice@example.com"
    who["since"] = datetime.now(UTC) - timedelta(hours=1)
    recent_enough = _query(await _authorize(admin, max_age="7200"))
    claims = await _id_token(admin, recent_enough["code"], made["web"])
    assert claims["auth_time"] == int(who["since"].timestamp())
    back = _fresh_sign_in(await _authorize(admin, max_age="600"))
    assert "max_age=600" in back
    assert _query(await _authorize(admin, prompt="none", max_age="600"))["error"] == (
        "login_required"
    )


async def _id_token(client: httpx.AsyncClient, code: str, secret: str) -> dict[str, Any]:
    """The ID token's claims, redeemed and checked the way authlib's client checks them."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    answer = await client.post("/oidc/token", data=form, auth=("web", secret))
    assert answer.status_code == 200, answer.text
    keys = JsonWebKey.import_key_set((await client.get("/.well-known/jwks.json")).json())
    claims = authlib_jwt.decode(
        answer.json()["id_token"], keys, claims_cls=CodeIDToken,
        claims_options={"iss": {"values": [ISSUER]}, "aud": {"values": ["web"]}},
        claims_params={"nonce": "no-1", "client_id": "web", "max_age": 1},
    )  # fmt: skip
    claims.validate(leeway=5)
    return dict(claims)


async def _rp_flow(
    started: Started, client_id: str, secret: str | None, *, nonce: str, expect_nonce: str
) -> dict[str, Any]:
    """authlib's client, end to end against the in-process authority."""
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    options: dict[str, Any] = {"code_challenge_method": "S256"}
    if secret is None:
        options["token_endpoint_auth_method"] = "none"
    async with AsyncOAuth2Client(
        client_id, secret, scope="openid profile groups", redirect_uri=CALLBACK,
        transport=transport, base_url=ISSUER, **options,
    ) as rp:  # fmt: skip
        config = (
            await rp.request("GET", "/.well-known/openid-configuration", withhold_token=True)
        ).json()
        verifier = secrets.token_urlsafe(48)
        url, state = rp.create_authorization_url(
            config["authorization_endpoint"], nonce=nonce, code_verifier=verifier
        )
        redirected = await rp.request("GET", url, withhold_token=True)
        location = redirected.headers["location"]
        assert location.startswith(CALLBACK), redirected.text
        token = await rp.fetch_token(
            config["token_endpoint"], authorization_response=location, code_verifier=verifier,
            state=state,
        )  # fmt: skip
        jwks = await rp.request("GET", config["jwks_uri"], withhold_token=True)
        keys = JsonWebKey.import_key_set(jwks.json())
        claims = authlib_jwt.decode(
            token["id_token"], keys, claims_cls=CodeIDToken,
            claims_options={"iss": {"values": [ISSUER]}, "aud": {"values": [client_id]}},
            claims_params={"nonce": expect_nonce, "client_id": client_id},
        )  # fmt: skip
        claims.validate()
        info = (await rp.get(config["userinfo_endpoint"])).json()
        return {"token": token, "claims": dict(claims), "userinfo": info}


async def test_authlib_signs_in_as_a_confidential_client(
    admin: httpx.AsyncClient, started: Started, who
) -> None:
    made = await _setup(admin)
    who["name"] = "alice@example.com"
    done = await _rp_flow(started, "web", made["web"], nonce="n1", expect_nonce="n1")
    assert done["claims"]["name"] == "alice@example.com"
    assert done["claims"]["groups"] == ["devs"]
    assert done["userinfo"]["sub"] == done["claims"]["sub"]
    assert "refresh_token" in done["token"]


async def test_authlib_signs_in_as_a_public_client(
    admin: httpx.AsyncClient, started: Started, who
) -> None:
    await _setup(admin)
    who["name"] = "alice@example.com"
    done = await _rp_flow(started, "spa", None, nonce="n2", expect_nonce="n2")
    assert done["claims"]["aud"] == "spa"
    assert "refresh_token" not in done["token"]


async def test_a_nonce_mismatch_is_refused_by_the_relying_party(
    admin: httpx.AsyncClient, started: Started, who
) -> None:
    made = await _setup(admin)
    who["name"] = "alice@example.com"
    with pytest.raises(InvalidClaimError, match="nonce"):
        await _rp_flow(started, "web", made["web"], nonce="sent", expect_nonce="other")
