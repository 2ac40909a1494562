"""The authority's own keys and tokens: the one place it makes, serialises and signs with keys,
and the one place it takes a destination's public encryption key and seals tokens to it.

Every other use of :mod:`jot.jose` in the authority either only passes :class:`~jot.jose.Key`
objects along (the keyring, token issuance) or verifies someone else's tokens: the OpenID
Connect login checks a provider's ID token against the provider's JWKS
(:mod:`jot.authority.oidc.idtoken`, :mod:`jot.authority.oidc.discovery`).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from jot.api import TOKEN_TYPE
from jot.jose import Key, jwe, jwk, jwt
from jot.jose.errors import JotError

__all__ = [
    "SEALING_ALGORITHMS",
    "encryption_key",
    "generate",
    "load_private",
    "private_json",
    "public_jwk",
    "sealing_key",
    "sign",
    "sign_id_token",
]

#: The key management algorithms a destination's encryption key may be bound to: RSA-OAEP
#: and ECDH-ES (public keys; RSA1_5, key wrapping with a shared secret and PBES2 are not).
SEALING_ALGORITHMS = frozenset(
    {
        "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512",
        "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW",
    }
)  # fmt: skip

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


def sign(claims: dict[str, Any], key: Key, encrypt_to: Key | None = None) -> str:
    """A jot; with ``encrypt_to``, sealed: the signed jot encrypted to that key (a nested
    JWT, ``cty: JWT``), so that only the destination reads it."""
    return jwt.encode(claims, key, typ=TOKEN_TYPE, encrypt_to=encrypt_to)


def encryption_key(data: Any) -> dict[str, Any]:
    """A destination's public encryption key (a JWK) checked, as it is stored: bound to its
    key management algorithm (the key's own, or the usual one for its type), ``use: enc``,
    and a ``kid`` (the RFC 7638 thumbprint unless it has one).

    :raises ValueError: one line saying what is wrong with it.
    """
    try:
        key = jwk.import_key(data) if isinstance(data, dict) else None
    except JotError as exc:
        raise ValueError(f"not a usable JWK: {exc}") from None
    if key is None:
        raise ValueError("the encryption key must be a JWK (a JSON object)")
    if key.kty == "oct":
        raise ValueError("a secret (oct) key cannot be an encryption key here: give a public key")
    if key.is_private:
        # Refused, never stored: the private half belongs to the destination alone.
        raise ValueError("that is a private key: register its public half (jot jwk public)")
    if key.use == "sig":
        raise ValueError("that key is for signatures (use: sig), not encryption")
    try:
        alg = jwe.default_algorithm(key)
        if alg not in SEALING_ALGORITHMS:
            raise ValueError(f"{alg} is not an algorithm tokens are sealed with here")
        jwe.check_key(key, alg, jwe.DEFAULT_ENC)
    except JotError as exc:
        raise ValueError(str(exc)) from None
    bound = jwk.import_key(key, alg=alg, use="enc", kid=key.kid or key.thumbprint())
    return {**bound.to_dict(private=False), "alg": alg, "use": "enc", "kid": bound.kid}


@functools.lru_cache(maxsize=256)
def sealing_key(stored: str) -> Key:
    """The key to seal tokens to, from its stored JWK text (made once per text: the token
    path asks for it on every decision)."""
    data = json.loads(stored)
    return jwk.import_key(data, alg=data["alg"], use="enc", kid=data["kid"])


def sign_id_token(claims: dict[str, Any], key: Key) -> str:
    """An OpenID Connect ID token: ``typ`` JWT, so that no destination takes it for a jot
    (they require ``typ`` jot+jwt; RFC 8725 §3.11)."""
    return jwt.encode(claims, key, typ="JWT")
