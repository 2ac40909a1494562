"""ECDH-ES key agreement for JWE (RFC 7518 §4.6, RFC 8037 §3.2): P-256/384/521, X25519, X448.

The sender's ephemeral public key is checked before it is used: a public JWK of the
recipient's key type and curve, on the curve; an all-zero X25519/X448 shared secret (a
small-order point) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import sha256
from typing import Any, ClassVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from jot.jose._b64 import b64encode_str
from jot.jose._jwe.content import DECRYPTION_FAILED, ContentEncryption
from jot.jose._jwe.keys import Entropy, KeyManagement, header_bytes, kw_unwrap
from jot.jose.errors import DecryptionError, JoseError, MalformedTokenError, UsageError
from jot.jose.jwk import ECKey, Key, OKPKey

__all__ = ["ECDHES"]


class ECDHES(KeyManagement):
    """ECDH-ES and ECDH-ES+A128KW/A192KW/A256KW (RFC 7518 §4.6) on P-256/384/521, X25519/X448."""

    encrypt_op = "deriveKey"
    decrypt_op = "deriveKey"
    static_header = False
    _CURVES: ClassVar[frozenset[str]] = frozenset({"P-256", "P-384", "P-521", "X25519", "X448"})

    def __init__(self, name: str, kw_size: int | None) -> None:
        self.name = name
        self.kw_size = kw_size
        self.direct = kw_size is None
        self._plain_info: dict[str, bytes] = {}  # OtherInfo without apu/apv, by enc.

    def check_key(self, key: Key, enc: ContentEncryption | None = None) -> None:
        if not isinstance(key, ECKey | OKPKey) or key.curve not in self._CURVES:
            raise UsageError(f"{self.name} needs a P-256/384/521, X25519 or X448 key")
        if key.alg is not None and key.alg != self.name:
            raise UsageError(f"the key is bound to {key.alg}, not {self.name}")

    def _derive(self, shared: bytes, enc: ContentEncryption, header: Mapping[str, Any]) -> bytes:
        # RFC 7518 §4.6.2: Concat KDF; AlgorithmID is enc for direct use, else alg.
        if not shared.strip(b"\0"):
            # RFC 7748 §6.1: an all-zero X25519/X448 result means a small-order point.
            raise DecryptionError(DECRYPTION_FAILED)
        size = enc.key_size if self.kw_size is None else self.kw_size
        if "apu" in header or "apv" in header:
            other_info = self._other_info(size, enc, header)
        else:  # The usual case: the same OtherInfo for every token with this enc.
            other_info = self._plain_info.get(enc.name) or b""
            if not other_info:
                other_info = self._other_info(size, enc, header)
                self._plain_info[enc.name] = other_info  # At most one per enc: six.
        return _concat_kdf(shared, size, other_info)

    def _other_info(self, size: int, enc: ContentEncryption, header: Mapping[str, Any]) -> bytes:
        algorithm_id = (enc.name if self.kw_size is None else self.name).encode("ascii")
        apu = header_bytes(header, "apu") if "apu" in header else b""
        apv = header_bytes(header, "apv") if "apv" in header else b""
        return b"".join(
            len(part).to_bytes(4, "big") + part for part in (algorithm_id, apu, apv)
        ) + (8 * size).to_bytes(4, "big")

    def wrap(
        self,
        key: Key,
        enc: ContentEncryption,
        cek: bytes | None,
        header: dict[str, Any],
        entropy: Entropy,
    ) -> tuple[bytes, bytes]:
        ephemeral = entropy.ephemeral(key)
        header["epk"] = _public_jwk(key, ephemeral.public_key())
        try:
            derived = self._derive(_exchange(key, ephemeral, key.verifier), enc, header)
        except MalformedTokenError as exc:  # The caller's own apu/apv.
            raise UsageError(exc.description) from None
        if self.kw_size is None:
            return derived, b""
        assert cek is not None
        return cek, aes_key_wrap(derived, cek)

    def unwrap(
        self,
        key: Key,
        enc: ContentEncryption,
        encrypted_key: bytes,
        header: Mapping[str, Any],
        max_p2c: int,
    ) -> bytes:
        peer = _ephemeral_public(key, header.get("epk"))
        try:
            shared = _exchange(key, key.crypto_key, peer)
        except ValueError:
            raise DecryptionError(DECRYPTION_FAILED) from None
        derived = self._derive(shared, enc, header)
        if self.kw_size is None:
            return derived
        return kw_unwrap(derived, encrypted_key, enc)


def _public_jwk(key: Key, public: Any) -> dict[str, str]:
    """The JWK of an ephemeral public key on ``key``'s curve (RFC 7518 §6.2.1, RFC 8037 §2)."""
    if isinstance(key, ECKey):
        numbers, size = public.public_numbers(), key.coordinate_size
        return {"kty": "EC", "crv": key.curve, "x": b64encode_str(numbers.x.to_bytes(size, "big")),
                "y": b64encode_str(numbers.y.to_bytes(size, "big"))}  # fmt: skip
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": key.curve or "", "x": b64encode_str(raw)}


def _exchange(key: Key, private: Any, public: Any) -> bytes:
    """ECDH of ``private`` and ``public``, keys of ``key``'s type and curve."""
    if isinstance(key, ECKey):  # Not of the `cryptography` key: its ABC is slower to test.
        shared: bytes = private.exchange(ec.ECDH(), public)
        return shared
    return bytes(private.exchange(public))


def _concat_kdf(shared: bytes, size: int, other_info: bytes) -> bytes:
    """NIST SP 800-56A §5.8.1 Concat KDF with SHA-256 (RFC 7518 §4.6.2): round i hashes the
    32-bit counter i, Z and OtherInfo. What ``ConcatKDFHash`` computes, without building its
    objects for every token (one round for the usual 128–256-bit keys)."""
    if size <= 32:
        return sha256(b"\0\0\0\1" + shared + other_info).digest()[:size]
    rounds = (sha256(i.to_bytes(4, "big") + shared + other_info).digest() for i in range(1, 3))
    return b"".join(rounds)[:size]  # At most 512 bits: A256CBC-HS512.


_OKP_PUBLIC = {
    "X25519": (32, x25519.X25519PublicKey.from_public_bytes),
    "X448": (56, x448.X448PublicKey.from_public_bytes),
}


def _ephemeral_public(key: Key, epk: object) -> Any:
    """The sender's ephemeral public key, checked: a public JWK of the recipient's key type
    and curve, with coordinates of the exact size, and (for EC) a point on the curve."""
    if type(epk) is not dict and not isinstance(epk, Mapping):  # The ABC check is slower.
        raise MalformedTokenError("ECDH-ES needs an 'epk' JSON object")
    if "d" in epk:
        raise MalformedTokenError("'epk' must be a public key")
    if epk.get("kty") != key.kty or epk.get("crv") != key.curve:
        raise DecryptionError(DECRYPTION_FAILED)
    try:
        if isinstance(key, ECKey):
            size = key.coordinate_size
            point = b"\4" + header_bytes(epk, "x", size) + header_bytes(epk, "y", size)
            # `cryptography` refuses a point that is not on the curve (invalid-curve attacks).
            # The uncompressed SEC 1 point is cheaper to load than EllipticCurvePublicNumbers.
            return ec.EllipticCurvePublicKey.from_encoded_point(key.crypto_key.curve, point)
        size, load = _OKP_PUBLIC[key.curve or ""]
        return load(header_bytes(epk, "x", size))
    except (JoseError, ValueError):
        raise DecryptionError(DECRYPTION_FAILED) from None
