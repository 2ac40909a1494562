"""The tables a JWK is checked against: uses, operations, curves, thumbprint members."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, x448, x25519

from jot.jose.errors import InvalidKeyError

__all__ = [
    "CURVES",
    "CURVE_NAMES",
    "KEY_OPS",
    "OKP_TYPES",
    "PUBLIC_OPS",
    "THUMBPRINT_MEMBERS",
    "USES",
    "check_key_ops",
]

USES = frozenset({"sig", "enc"})
KEY_OPS = frozenset(
    {"sign", "verify", "encrypt", "decrypt", "wrapKey", "unwrapKey", "deriveKey", "deriveBits"}
)
#: The operations a public key can still do.
PUBLIC_OPS = frozenset({"verify", "encrypt", "wrapKey"})

CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
    "secp256k1": ec.SECP256K1(),
}
#: `cryptography`'s curve name -> the JWK crv.
CURVE_NAMES = {curve.name: name for name, curve in CURVES.items()}
#: crv -> (private class, public class) of `cryptography`.
OKP_TYPES: dict[str, tuple[Any, Any]] = {
    "Ed25519": (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey),
    "Ed448": (ed448.Ed448PrivateKey, ed448.Ed448PublicKey),
    "X25519": (x25519.X25519PrivateKey, x25519.X25519PublicKey),
    "X448": (x448.X448PrivateKey, x448.X448PublicKey),
}

# RFC 7638 §3.2: the required members of each key type, kty included.
THUMBPRINT_MEMBERS = {
    "oct": ("k", "kty"),
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def check_key_ops(key_ops: Iterable[str]) -> tuple[str, ...]:
    """The JWK ``key_ops`` member as a tuple, checked (RFC 7517 §4.3)."""
    if isinstance(key_ops, str | Mapping) or not isinstance(key_ops, Iterable):
        raise InvalidKeyError("JWK member 'key_ops' is not a list")
    ops = tuple(key_ops)
    # Check the types first: a list member is unhashable and would break set() below.
    if not all(isinstance(op, str) for op in ops) or len(set(ops)) != len(ops):
        raise InvalidKeyError("JWK member 'key_ops' has duplicates or non-strings")
    unknown = set(ops) - KEY_OPS
    if unknown:
        raise InvalidKeyError(f"JWK member 'key_ops' has unknown operations {sorted(unknown)}")
    return ops
