"""The authority's own keys and tokens: the one place it makes, serialises and signs with keys.

Every other use of :mod:`jot.jose` in the authority either only passes :class:`~jot.jose.Key`
objects along (the keyring, token issuance) or verifies someone else's tokens: the OpenID
Connect login checks a provider's ID token against the provider's JWKS
(:mod:`jot.authority.oidc.idtoken`, :mod:`jot.authority.oidc.discovery`).
"""

from __future__ import annotations

import json
from typing import Any

from jot.api import TOKEN_TYPE
from jot.jose import Key, jwk, jwt

__all__ = ["generate", "load_private", "private_json", "public_jwk", "sign", "sign_id_token"]

# Which key type each selectable algorithm needs.
_KEY_TYPES: dict[str, tuple[str, int | None]] = {
    "EdDSA": ("Ed25519", None),
    "ES256": ("P-256", None),
    "RS256": ("RSA", 3072),
    "PS256": ("RSA", 3072),
}


def generate(alg: str) -> Key:
    """A new private signing key for ``alg``; its kid is the RFC 7638 thumbprint."""
    kty, size = _KEY_TYPES[alg]
    if size is None:
        return jwk.generate(kty, alg=alg)
    return jwk.generate(kty, size=size, alg=alg)


def private_json(key: Key) -> bytes:
    return json.dumps(key.to_dict(private=True)).encode()


def load_private(data: bytes) -> Key:
    return jwk.import_key(json.loads(data))


def public_jwk(key: Key) -> dict[str, Any]:
    """The JWKS entry: standard members only, with ``use``, ``alg`` and ``kid``."""
    entry = dict(key.to_dict(private=False))
    entry.update({"use": "sig", "alg": key.alg, "kid": key.kid})
    return entry


def sign(claims: dict[str, Any], key: Key) -> str:
    return jwt.encode(claims, key, typ=TOKEN_TYPE)


def sign_id_token(claims: dict[str, Any], key: Key) -> str:
    """An OpenID Connect ID token: ``typ`` JWT, so that no destination takes it for a jot
    (they require ``typ`` jot+jwt; RFC 8725 §3.11)."""
    return jwt.encode(claims, key, typ="JWT")
