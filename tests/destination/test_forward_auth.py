from __future__ import annotations

import httpx
import pytest

from jot.destination.forward_auth import ForwardAuth, encode_header
from jot.destination.verifier import AsyncVerifier

from .authority import ACCESS_KEY, FakeAuthority

pytestmark = pytest.mark.anyio


@pytest.fixture
def authority() -> FakeAuthority:
    a = FakeAuthority()
    a.set_grants([("group:ops", "admin", "web"), ("group:ops", "docs-editor", "web.docs")])
    return a


def client_for(authority: FakeAuthority, **kwargs) -> httpx.AsyncClient:
    verifier = AsyncVerifier(
        authority.issuer, audience="web", access_key=ACCESS_KEY, http=authority.async_client()
    )
    transport = httpx.ASGITransport(app=ForwardAuth(verifier, **kwargs))
    return httpx.AsyncClient(transport=transport, base_url="http://auth")


def test_encode_header():
    assert encode_header(["a@b.c", "x,y", "é", "sp ace"]) == "a@b.c,x%2Cy,%C3%A9,sp%20ace"
    assert encode_header([]) == ""


async def test_decisions(authority):
    async with client_for(authority) as client:
        ok = await client.get("/auth", headers={"Authorization": "Bearer " + authority.token()})
        assert ok.status_code == 200
        assert ok.headers["x-jot-user"] == "alice@example.com"
        assert ok.headers["x-jot-subject"] == "u_alice"
        assert ok.headers["x-jot-groups"] == "ops"
        assert ok.headers["x-jot-roles"] == "admin"
        docs = await client.get(
            "/auth?resource=web.docs", headers={"Authorization": "Bearer " + authority.token()}
        )
        assert docs.headers["x-jot-roles"] == "admin,docs-editor"
        outside = await client.get(
            "/auth?resource=db", headers={"Authorization": "Bearer " + authority.token()}
        )
        assert outside.status_code == 500
        none = await client.get("/auth")
        assert none.status_code == 401
        assert none.headers["www-authenticate"] == 'Bearer realm="web"'
        bad = await client.get("/auth", headers={"Authorization": "Bearer x.y.z"})
        assert bad.status_code == 401
        assert "invalid_token" in bad.headers["www-authenticate"]
        nobody = authority.token(groups=["dev"])
        assert (
            await client.get("/", headers={"Authorization": "Bearer " + nobody})
        ).status_code == 403
        assert (await client.get("/healthz")).status_code == 200


async def test_allow_no_role_and_unavailable(authority):
    async with client_for(authority, require_grant=False) as client:
        nobody = authority.token(groups=["dev"])
        response = await client.get("/", headers={"Authorization": "Bearer " + nobody})
        assert response.status_code == 200
        assert response.headers["x-jot-roles"] == ""
    authority.down = True
    async with client_for(authority) as client:
        response = await client.get("/", headers={"Authorization": "Bearer " + authority.token()})
        assert response.status_code == 503
