"""JSON Web Algorithms for signatures (RFC 7518 §3, RFC 8037, RFC 9864).

Each algorithm is an object that knows which key types it accepts, so a key can never be used
with an algorithm of another family (an RSA public key is never an HMAC secret). The table
:data:`SIGNATURE_ALGORITHMS` is data: callers pick from it with an allow-list.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from jot.jose.errors import InvalidKeyError, UsageError
from jot.jose.jwk import ECKey, Key, OctKey, OKPKey, RSAKey

__all__ = [
    "SIGNATURE_ALGORITHMS",
    "SignatureAlgorithm",
    "default_algorithm",
    "get_algorithm",
]

# hmac.digest is a Python wrapper around this OpenSSL one-shot HMAC; calling it directly saves
# the wrapper's checks on every token (the hash names used here are always OpenSSL's).
try:
    from _hashlib import hmac_digest as _hmac_digest
except ImportError:  # pragma: no cover - CPython without OpenSSL
    _hmac_digest = hmac.digest  # type: ignore[assignment]

_HASHES = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}

# The order n of each curve's base point: ECDSA's r and s must lie in [1, n-1].
_CURVE_ORDERS = {
    "P-256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "P-384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "P-521": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
    "secp256k1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
}


class SignatureAlgorithm:
    """One JWS ``alg``: how to sign and verify, and which keys it accepts."""

    name: str
    key_type: type[Key]

    def check_key(self, key: Key) -> None:
        """Raise :class:`UsageError` if ``key`` cannot be used with this algorithm."""
        if not isinstance(key, self.key_type):
            raise UsageError(f"{self.name} needs a {self.key_type.kty} key, not {key.kty}")
        if key.alg is not None and key.alg != self.name:
            raise UsageError(f"the key is bound to {key.alg}, not {self.name}")

    def sign(self, key: Key, data: bytes) -> bytes:
        raise NotImplementedError

    def verify(self, key: Key, data: bytes, signature: bytes) -> bool:
        """True only if ``signature`` is valid; never raises for a bad signature."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class HMACAlgorithm(SignatureAlgorithm):
    """HS256, HS384, HS512 (RFC 7518 §3.2)."""

    key_type = OctKey

    def __init__(self, name: str, hash_name: str) -> None:
        self.name = name
        self.hash_name = hash_name
        self.min_key_size = hashlib.new(hash_name).digest_size

    def check_key(self, key: Key) -> None:
        super().check_key(key)
        # RFC 7518 §3.2: a key of the same size as the hash output or larger MUST be used.
        if len(key.crypto_key) < self.min_key_size and not key.weak_allowed:
            raise InvalidKeyError(
                f"{self.name} needs a secret of at least {self.min_key_size} bytes"
            )

    def sign(self, key: Key, data: bytes) -> bytes:
        return _hmac_digest(key.crypto_key, data, self.hash_name)

    def verify(self, key: Key, data: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(_hmac_digest(key.crypto_key, data, self.hash_name), signature)


class RSAAlgorithm(SignatureAlgorithm):
    """RS256/384/512 (PKCS #1 v1.5) and PS256/384/512 (PSS), RFC 7518 §3.3, §3.5."""

    key_type = RSAKey

    def __init__(self, name: str, hash_name: str, pss: bool) -> None:
        self.name = name
        self.hash = _HASHES[hash_name]
        # RFC 7518 §3.5: the PSS salt is as long as the hash output.
        self.padding: padding.AsymmetricPadding = (
            padding.PSS(padding.MGF1(self.hash), self.hash.digest_size)
            if pss
            else padding.PKCS1v15()
        )

    def sign(self, key: Key, data: bytes) -> bytes:
        private: rsa.RSAPrivateKey = key.crypto_key
        return private.sign(data, self.padding, self.hash)

    def verify(self, key: Key, data: bytes, signature: bytes) -> bool:
        try:
            key.verifier.verify(signature, data, self.padding, self.hash)
        except InvalidSignature:
            return False
        return True


class ECDSAAlgorithm(SignatureAlgorithm):
    """ES256, ES384, ES512 (RFC 7518 §3.4) and ES256K (RFC 8812)."""

    key_type = ECKey

    def __init__(self, name: str, curve: str, hash_name: str) -> None:
        self.name = name
        self.curve = curve
        self.order = _CURVE_ORDERS[curve]
        self.size = (self.order.bit_length() + 7) // 8
        self.ecdsa = ec.ECDSA(_HASHES[hash_name])

    def check_key(self, key: Key) -> None:
        super().check_key(key)
        if key.curve != self.curve:
            raise UsageError(f"{self.name} needs a {self.curve} key, not {key.curve}")

    def sign(self, key: Key, data: bytes) -> bytes:
        r, s = decode_dss_signature(key.crypto_key.sign(data, self.ecdsa))
        return r.to_bytes(self.size, "big") + s.to_bytes(self.size, "big")

    def verify(self, key: Key, data: bytes, signature: bytes) -> bool:
        # RFC 7518 §3.4: exactly 2·⌈bits/8⌉ bytes, r then s; each in [1, n-1] (CVE-2022-21449).
        size = self.size
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        if not (0 < r < self.order and 0 < s < self.order):
            return False
        try:
            key.verifier.verify(encode_dss_signature(r, s), data, self.ecdsa)
        except InvalidSignature:
            return False
        return True


class EdDSAAlgorithm(SignatureAlgorithm):
    """EdDSA (RFC 8037, either curve) and the fully specified Ed25519/Ed448 (RFC 9864)."""

    key_type = OKPKey
    _SIZES: ClassVar[dict[str, int]] = {"Ed25519": 64, "Ed448": 114}

    def __init__(self, name: str, curves: tuple[str, ...]) -> None:
        self.name = name
        self.curves = curves
        self._size_by_type: dict[type, int] = {}

    def check_key(self, key: Key) -> None:
        super().check_key(key)
        if key.curve not in self.curves:
            raise UsageError(f"{self.name} needs a {' or '.join(self.curves)} key")

    def sign(self, key: Key, data: bytes) -> bytes:
        private: ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey = key.crypto_key
        return private.sign(data)

    def verify(self, key: Key, data: bytes, signature: bytes) -> bool:
        # key.curve tests the key against each OKP class in turn; the class of the public key
        # object says the same, so the size is looked up by it (and learned on first sight).
        verifier_type = type(key.verifier)
        size = self._size_by_type.get(verifier_type)
        if size is None:
            size = self._size_by_type[verifier_type] = self._SIZES[key.curve or ""]
        if len(signature) != size:
            return False
        try:
            key.verifier.verify(signature, data)
        except InvalidSignature:
            return False
        return True


def _table(*algorithms: SignatureAlgorithm) -> Mapping[str, SignatureAlgorithm]:
    return {algorithm.name: algorithm for algorithm in algorithms}


#: Every signature algorithm jot implements, by ``alg`` name. ``none`` is not one of them.
SIGNATURE_ALGORITHMS: Mapping[str, SignatureAlgorithm] = _table(
    HMACAlgorithm("HS256", "sha256"),
    HMACAlgorithm("HS384", "sha384"),
    HMACAlgorithm("HS512", "sha512"),
    RSAAlgorithm("RS256", "SHA256", pss=False),
    RSAAlgorithm("RS384", "SHA384", pss=False),
    RSAAlgorithm("RS512", "SHA512", pss=False),
    RSAAlgorithm("PS256", "SHA256", pss=True),
    RSAAlgorithm("PS384", "SHA384", pss=True),
    RSAAlgorithm("PS512", "SHA512", pss=True),
    ECDSAAlgorithm("ES256", "P-256", "SHA256"),
    ECDSAAlgorithm("ES384", "P-384", "SHA384"),
    ECDSAAlgorithm("ES512", "P-521", "SHA512"),
    ECDSAAlgorithm("ES256K", "secp256k1", "SHA256"),
    EdDSAAlgorithm("EdDSA", ("Ed25519", "Ed448")),
    EdDSAAlgorithm("Ed25519", ("Ed25519",)),
    EdDSAAlgorithm("Ed448", ("Ed448",)),
)

_NATURAL = {"RSA": "RS256", "P-256": "ES256", "P-384": "ES384", "P-521": "ES512",
            "secp256k1": "ES256K", "Ed25519": "EdDSA", "Ed448": "EdDSA"}  # fmt: skip


def default_algorithm(key: Key) -> str:
    """The algorithm to sign with when the caller names none: the key's own, or its family's."""
    if key.alg is not None:
        return key.alg
    if isinstance(key, OctKey):
        return "HS256"
    natural = _NATURAL.get(key.curve or key.kty)
    if natural is None:
        raise UsageError(f"a {key.curve or key.kty} key cannot sign")
    return natural


def get_algorithm(name: Any) -> SignatureAlgorithm:
    """The algorithm object for a name; :class:`UsageError` if jot has none by that name."""
    algorithm = SIGNATURE_ALGORITHMS.get(name) if isinstance(name, str) else None
    if algorithm is None:
        raise UsageError(f"unknown signature algorithm {name!r}")
    return algorithm
