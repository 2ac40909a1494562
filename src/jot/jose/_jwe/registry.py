"""The tables of JWE algorithms (RFC 7518 §4–5): data, from which callers pick by allow-list."""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.hazmat.primitives import hashes

from jot.jose._jwe.content import CONTENT_ENCRYPTIONS
from jot.jose._jwe.ecdh import ECDHES
from jot.jose._jwe.keys import (
    PBES2,
    RSA15,
    RSAOAEP,
    AESGCMKeyWrap,
    AESKeyWrap,
    Direct,
    KeyManagement,
)
from jot.jose.errors import UsageError
from jot.jose.jwk import Key, OctKey

__all__ = ["KEY_MANAGEMENT_ALGORITHMS", "RSA1_5", "default_algorithm", "get_key_management"]

_KW_BY_SIZE = {16: "A128KW", 24: "A192KW", 32: "A256KW"}


def _table(*algorithms: KeyManagement) -> Mapping[str, KeyManagement]:
    return {algorithm.name: algorithm for algorithm in algorithms}


#: Every key management algorithm jot offers by name. RSA1_5 is not one of them.
KEY_MANAGEMENT_ALGORITHMS: Mapping[str, KeyManagement] = _table(
    RSAOAEP("RSA-OAEP", hashes.SHA1()),  # noqa: S303 - SHA-1 in OAEP is what RFC 7518 names.
    RSAOAEP("RSA-OAEP-256", hashes.SHA256()),
    RSAOAEP("RSA-OAEP-384", hashes.SHA384()),
    RSAOAEP("RSA-OAEP-512", hashes.SHA512()),
    AESKeyWrap("A128KW", 16),
    AESKeyWrap("A192KW", 24),
    AESKeyWrap("A256KW", 32),
    Direct(),
    ECDHES("ECDH-ES", None),
    ECDHES("ECDH-ES+A128KW", 16),
    ECDHES("ECDH-ES+A192KW", 24),
    ECDHES("ECDH-ES+A256KW", 32),
    AESGCMKeyWrap("A128GCMKW", 16),
    AESGCMKeyWrap("A192GCMKW", 24),
    AESGCMKeyWrap("A256GCMKW", 32),
    PBES2("PBES2-HS256+A128KW", "sha256", 16),
    PBES2("PBES2-HS384+A192KW", "sha384", 24),
    PBES2("PBES2-HS512+A256KW", "sha512", 32),
)

#: The legacy RSAES-PKCS1-v1_5 algorithm; exported only by :mod:`jot.jose.hazmat`.
RSA1_5: KeyManagement = RSA15()


def get_key_management(name: object) -> KeyManagement:
    """The algorithm for a name or object; :class:`UsageError` if it is not available."""
    if isinstance(name, KeyManagement):
        return name
    algorithm = KEY_MANAGEMENT_ALGORITHMS.get(name) if isinstance(name, str) else None
    if algorithm is None:
        if name == "RSA1_5":
            raise UsageError("RSA1_5 is available only as jot.jose.hazmat.RSA1_5")
        raise UsageError(f"unknown key management algorithm {name!r}")
    return algorithm


def default_algorithm(key: Key) -> str:
    """The ``alg`` to encrypt to ``key`` with when the caller names none."""
    if key.alg is not None:
        if key.alg in CONTENT_ENCRYPTIONS:
            return "dir"
        if key.alg not in KEY_MANAGEMENT_ALGORITHMS and key.alg != "RSA1_5":
            raise UsageError(f"the key is bound to {key.alg}: it is not an encryption key")
        return key.alg
    if key.kty == "RSA":
        return "RSA-OAEP-256"
    if key.kty in ("EC", "OKP"):
        return "ECDH-ES"
    if isinstance(key, OctKey) and len(key.crypto_key) in _KW_BY_SIZE:
        return _KW_BY_SIZE[len(key.crypto_key)]
    raise UsageError(f"no default key management algorithm for this {key.kty} key")
