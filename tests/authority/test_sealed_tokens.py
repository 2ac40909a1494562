"""Sealed tokens (issue 19 item 5) at the authority, on SQLite and PostgreSQL: a destination's
public encryption key, set by an admin or its connector, and tokens signed then encrypted to
it; rollover to a new key."""

from __future__ import annotations

import httpx
import pytest

from jot.api import TOKEN_TYPE
from jot.jose import KeySet, jwk, jwt
from jot.jose.errors import JoseError
from jot.jose.hazmat import decode_unverified

from .conftest import ISSUER, bearer

pytestmark = pytest.mark.anyio


async def _ok(http: httpx.AsyncClient, method: str, path: str, **kwargs) -> httpx.Response:
    response = await http.request(method, path, **kwargs)
    assert response.is_success, (method, path, response.text)
    return response


async def _token(admin: httpx.AsyncClient, destination: str = "vault") -> str:
    response = await _ok(admin, "POST", "/api/tokens", json={"destination": destination})
    return str(response.json()["token"])


async def _open(admin: httpx.AsyncClient, token: str, key: jwk.Key) -> dict:
    keys = KeySet.from_dict((await _ok(admin, "GET", "/.well-known/jwks.json")).json())
    return jwt.decode(
        token, keys, issuer=ISSUER, audience="vault", typ=TOKEN_TYPE, decrypt_with=key
    )


def _private(kind: str = "X25519") -> jwk.Key:
    """A destination's private key as `jot jwk generate` makes it (bound to its alg)."""
    key = jwk.generate(kind)
    return jwk.import_key(key, alg="RSA-OAEP-256" if kind == "RSA" else "ECDH-ES")


async def test_tokens_are_sealed_to_the_destinations_key(admin: httpx.AsyncClient) -> None:
    private = _private()
    public = private.public().to_dict()
    made = await _ok(
        admin, "POST", "/api/destinations", json={"name": "vault", "encryption_key": public}
    )
    stored = made.json()["encryption_key"]
    assert stored == {**public, "alg": "ECDH-ES", "use": "enc", "kid": private.kid}
    await _ok(
        admin,
        "POST",
        "/api/grants",
        json={"subject": "user:admin", "role": "r", "resource": "vault"},
    )
    token = await _token(admin)
    header = decode_unverified(token).header
    assert token.count(".") == 4
    assert (header["cty"], header["alg"], header["enc"], header["kid"]) == (
        "JWT", "ECDH-ES", "A256GCM", private.kid,
    )  # fmt: skip
    claims = await _open(admin, token, private)
    assert (claims["aud"], claims["name"]) == ("vault", "admin")
    # Without the private key nothing is read; a signed-only decode is refused too.
    with pytest.raises(JoseError):
        await _open(admin, token, _private())
    keys = KeySet.from_dict((await _ok(admin, "GET", "/.well-known/jwks.json")).json())
    with pytest.raises(JoseError):
        jwt.decode(token, keys, issuer=ISSUER, audience="vault", typ=TOKEN_TYPE)
    # Other destinations' tokens stay signed only.
    assert (await _token(admin, "jot")).count(".") == 2
    events = (await _ok(admin, "GET", "/api/audit", params={"kind": "destination."})).json()
    assert [e["kind"] for e in events["items"]][:2] == [
        "destination.created", "destination.encryption_key_set",
    ]  # fmt: skip


def _grant(subject: str, role: str, resource: str) -> dict[str, str]:
    return {"subject": subject, "role": role, "resource": resource}


async def test_a_connector_publishes_its_key_and_rolls_it_over(admin: httpx.AsyncClient) -> None:
    for path, body in (
        ("/api/destinations", {"name": "vault"}),
        ("/api/destinations", {"name": "other"}),
        ("/api/users", {"name": "vault-connector", "kind": "machine"}),
        ("/api/users", {"name": "other-connector", "kind": "machine"}),
        ("/api/users", {"name": "vera", "kind": "machine"}),
        ("/api/grants", _grant("user:vault-connector", "connector", "jot.vault")),
        ("/api/grants", _grant("user:other-connector", "connector", "jot.other")),
        ("/api/grants", {"subject": "user:vera", "role": "view", "resource": "jot"}),
        ("/api/grants", {"subject": "user:admin", "role": "r", "resource": "vault"}),
    ):  # fmt: skip
        await _ok(admin, "POST", path, json=body)
    keys = {}
    for name in ("vault-connector", "other-connector", "vera"):
        made = await _ok(admin, "POST", "/api/access-keys", json={"identity": name})
        keys[name] = bearer(made.json()["access_key"])
    old, new = _private(), _private("RSA")
    path = "/api/destinations/vault/encryption-key"
    body = {"key": old.public().to_dict()}
    for who in ("other-connector", "vera"):
        refused = await admin.put(path, json=body, headers=keys[who])
        assert refused.status_code == 403, refused.text
    await _ok(admin, "PUT", path, json=body, headers=keys["vault-connector"])
    sealed_old = await _token(admin)
    assert decode_unverified(sealed_old).header["kid"] == old.kid

    # Rollover: the connector holds both private keys, publishes the new public one; new
    # tokens are sealed to it at once, and tokens sealed to the old key still open.
    await _ok(
        admin, "PUT", path, json={"key": new.public().to_dict()}, headers=keys["vault-connector"]
    )
    sealed_new = await _token(admin)
    header = decode_unverified(sealed_new).header
    assert (header["kid"], header["alg"]) == (new.kid, "RSA-OAEP-256")
    both = KeySet([old, new])
    assert (await _open(admin, sealed_old, both))["aud"] == "vault"
    assert (await _open(admin, sealed_new, both))["aud"] == "vault"

    # Removed: tokens are signed only again.
    await _ok(admin, "DELETE", path, headers=keys["vault-connector"])
    assert (await _token(admin)).count(".") == 2
    shown = await _ok(admin, "GET", "/api/destinations/vault")
    assert shown.json()["encryption_key"] is None


async def test_keys_that_cannot_seal_are_refused(admin: httpx.AsyncClient) -> None:
    await _ok(admin, "POST", "/api/destinations", json={"name": "vault"})
    path = "/api/destinations/vault/encryption-key"
    private = _private()
    cases = [
        (private.to_dict(private=True), "that is a private key: register its public half"),
        (jwk.generate("oct").to_dict(private=True), "a secret (oct) key cannot be"),
        (jwk.generate("Ed25519").public().to_dict(), "ECDH-ES needs a P-256/384/521, X25519"),
        ({**private.public().to_dict(), "use": "sig"}, "that key is for signatures"),
        ({"kty": "RSA", "n": "AQAB"}, "not a usable JWK"),
        ({**jwk.generate("RSA").public().to_dict(), "alg": "RSA1_5"}, "RSA1_5 is not an"),
    ]
    for key, message in cases:
        response = await admin.put(path, json={"key": key})
        assert response.status_code == 400, response.text
        assert response.json()["message"].startswith("encryption key: " + message), key
    refused = await admin.put(
        "/api/destinations/jot/encryption-key", json={"key": private.public().to_dict()}
    )
    assert refused.json()["message"] == "tokens for 'jot' itself are never sealed"
    missing = await admin.put(
        "/api/destinations/nope/encryption-key", json={"key": private.public().to_dict()}
    )
    assert missing.status_code == 404
    # Nothing was stored by any refusal.
    assert (await _ok(admin, "GET", "/api/destinations/vault")).json()["encryption_key"] is None
