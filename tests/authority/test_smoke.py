from __future__ import annotations

import httpx
import jwt as pyjwt
import pytest

from .conftest import ISSUER

pytestmark = pytest.mark.anyio


async def test_token_flow(admin: httpx.AsyncClient) -> None:
    r = await admin.post(
        "/api/users", json={"name": "alice@example.com", "password": "correct horse"}
    )
    assert r.status_code == 201, r.text
    r = await admin.post("/api/destinations", json={"name": "web"})
    assert r.status_code == 201, r.text
    r = await admin.post(
        "/api/grants",
        json={"subject": "user:alice@example.com", "role": "viewer", "resource": "web"},
    )
    assert r.status_code == 201, r.text
    r = await admin.post(
        "/api/login",
        json={"name": "alice@example.com", "password": "correct horse"},
        headers={"Authorization": ""},
    )
    assert r.status_code == 201, r.text
    key = r.json()["access_key"]
    r = await admin.post(
        "/api/tokens", json={"destination": "web"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    jwks = (await admin.get("/.well-known/jwks.json")).json()
    header = pyjwt.get_unverified_header(token)
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = pyjwt.decode(
        token, pyjwt.PyJWK(jwk), algorithms=["EdDSA"], audience="web", issuer=ISSUER
    )
    assert claims["name"] == "alice@example.com"
