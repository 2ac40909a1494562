"""JWE key management (RFC 7518 §4, RFC 8037 §3.2): how the content encryption key travels.

Every algorithm checks the key it is given (type, size, binding) and raises
:class:`UsageError` for a key that cannot be used. Unwrapping never reports *why* it failed:
a failure yields a random CEK of the right size, so that the content decryption fails with the
same :class:`DecryptionError` as any other tampering (RFC 7516 §11.5, the Bleichenbacher and
Manger countermeasure), and no branch depends on the length of what was decrypted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x448, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

from jot.jose._b64 import b64decode, b64encode_str
from jot.jose._jwe.content import CONTENT_ENCRYPTIONS, ContentEncryption
from jot.jose.errors import MalformedTokenError, UsageError
from jot.jose.jwk import Key, OctKey, RSAKey

__all__ = [
    "DEFAULT_P2C",
    "MAX_P2C",
    "MIN_P2C",
    "MIN_SALT_SIZE",
    "PBES2",
    "RSA15",
    "RSAOAEP",
    "AESGCMKeyWrap",
    "AESKeyWrap",
    "Direct",
    "Entropy",
    "KeyManagement",
    "PasswordKey",
    "header_bytes",
    "kw_unwrap",
    "random_cek",
]

#: PBES2 iteration count used when encrypting, unless the header names another (``p2c``).
DEFAULT_P2C = 310_000
#: Largest ``p2c`` accepted when decrypting, unless the caller raises it: one token can cost
#: the recipient at most this many HMAC computations (0.1–0.3 s), never an attacker's choice.
MAX_P2C = 310_000
#: RFC 7518 §4.8.1.2 recommends at least 1000 iterations; fewer are refused both ways.
MIN_P2C = 1000
#: RFC 7518 §4.8.1.1: the salt input ``p2s`` must be at least 8 bytes.
MIN_SALT_SIZE = 8
_SALT_SIZE = 16


class Entropy:
    """Where encryption takes its randomness. Tests pass a subclass with fixed values."""

    def random(self, size: int, purpose: str) -> bytes:
        """``size`` random bytes for ``purpose`` (``"cek"``, ``"iv"``, ``"kw_iv"``, ``"p2s"``)."""
        return os.urandom(size)

    def ephemeral(self, recipient: Key) -> Any:
        """A fresh private key on the recipient's curve, for ECDH-ES."""
        public = recipient.verifier
        if isinstance(public, ec.EllipticCurvePublicKey):
            return ec.generate_private_key(public.curve)
        if isinstance(public, x25519.X25519PublicKey):
            return x25519.X25519PrivateKey.generate()
        return x448.X448PrivateKey.generate()


class PasswordKey(OctKey):
    """A password, for PBES2 only; made on purpose with :func:`jot.jose.jwe.password_key`."""

    __slots__ = ()


class KeyManagement:
    """One JWE ``alg``: how the CEK is wrapped for, or agreed with, one recipient."""

    name: str
    key_type: type[Key] = Key
    #: True when the CEK is the key itself or derived from it (``dir``, ``ECDH-ES``): then the
    #: encrypted key is empty and there can be only one recipient.
    direct: bool = False
    #: The ``key_ops`` needed to encrypt and to decrypt (RFC 7517 §4.3).
    encrypt_op: ClassVar[str] = "wrapKey"
    decrypt_op: ClassVar[str] = "unwrapKey"
    #: True when :meth:`wrap` adds nothing to the header, so a header can be encoded once.
    static_header: ClassVar[bool] = True

    def check_key(self, key: Key, enc: ContentEncryption | None = None) -> None:
        """Raise :class:`UsageError` if ``key`` cannot be used with this algorithm."""
        if not isinstance(key, self.key_type):
            raise UsageError(f"{self.name} needs a {self.key_type.kty} key, not {key.kty}")
        if isinstance(key, PasswordKey) != self.name.startswith("PBES2"):
            raise UsageError(f"{self.name} cannot use a password key, nor PBES2 another key")
        if key.alg is not None and not self.binds(key.alg, enc):
            raise UsageError(f"the key is bound to {key.alg}, not {self.name}")

    def binds(self, key_alg: str, enc: ContentEncryption | None) -> bool:
        """Whether a key bound to ``key_alg`` may be used with this algorithm."""
        return key_alg == self.name

    def wrap(
        self,
        key: Key,
        enc: ContentEncryption,
        cek: bytes | None,
        header: dict[str, Any],
        entropy: Entropy,
    ) -> tuple[bytes, bytes]:
        """Return ``(cek, encrypted_key)``; add this algorithm's parameters to ``header``.

        ``cek`` is ``None`` for direct algorithms, which make it themselves.
        """
        raise NotImplementedError  # pragma: no cover - every algorithm overrides it

    def unwrap(
        self,
        key: Key,
        enc: ContentEncryption,
        encrypted_key: bytes,
        header: Mapping[str, Any],
        max_p2c: int,
    ) -> bytes:
        """The CEK: the real one, or a random one of the right size if unwrapping fails."""
        raise NotImplementedError  # pragma: no cover - every algorithm overrides it

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def random_cek(enc: ContentEncryption) -> bytes:
    return os.urandom(enc.key_size)


def header_bytes(header: Mapping[str, Any], name: str, size: int | None = None) -> bytes:
    value = header.get(name)
    if not isinstance(value, str):
        raise MalformedTokenError(f"the header parameter {name!r} is missing or not a string")
    raw = b64decode(value)
    if size is not None and len(raw) != size:
        raise MalformedTokenError(f"the header parameter {name!r} must be {size} bytes")
    return raw


class Direct(KeyManagement):
    """``dir`` (RFC 7518 §4.5): the shared symmetric key is the CEK."""

    name = "dir"
    key_type = OctKey
    direct = True
    encrypt_op = "encrypt"
    decrypt_op = "decrypt"

    def binds(self, key_alg: str, enc: ContentEncryption | None) -> bool:
        # A dir key may be bound to the content encryption it serves (RFC 7520 §5.6).
        return key_alg == self.name or (
            key_alg in CONTENT_ENCRYPTIONS and (enc is None or key_alg == enc.name)
        )

    def check_key(self, key: Key, enc: ContentEncryption | None = None) -> None:
        super().check_key(key, enc)
        if enc is not None and len(key.crypto_key) != enc.key_size:
            raise UsageError(f"dir with {enc.name} needs a {enc.key_size}-byte key")

    def wrap(
        self,
        key: Key,
        enc: ContentEncryption,
        cek: bytes | None,
        header: dict[str, Any],
        entropy: Entropy,
    ) -> tuple[bytes, bytes]:
        secret: bytes = key.crypto_key
        return secret, b""

    def unwrap(
        self,
        key: Key,
        enc: ContentEncryption,
        encrypted_key: bytes,
        header: Mapping[str, Any],
        max_p2c: int,
    ) -> bytes:
        secret: bytes = key.crypto_key
        return secret


class AESKeyWrap(KeyManagement):
    """A128KW, A192KW, A256KW (RFC 7518 §4.4, RFC 3394)."""

    key_type = OctKey

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size

    def check_key(self, key: Key, enc: ContentEncryption | None = None) -> None:
        super().check_key(key, enc)
        if len(key.crypto_key) != self.size:
            raise UsageError(f"{self.name} needs a {self.size}-byte key")

    def wrap(
        self,
        key: Key,
        enc: ContentEncryption,
        cek: bytes | None,
        header: dict[str, Any],
        entropy: Entropy,
    ) -> tuple[bytes, bytes]:
        assert cek is not None  # Only direct algorithms are called without a CEK.
        return cek, aes_key_wrap(key.crypto_key, cek)

    def unwrap(
        self,
        key: Key,
        enc: ContentEncryption,
        encrypted_key: bytes,
        header: Mapping[str, Any],
        max_p2c: int,
    ) -> bytes:
        return kw_unwrap(key.crypto_key, encrypted_key, enc)


def kw_unwrap(kek: bytes, encrypted_key: bytes, enc: ContentEncryption) -> bytes:
    # A symmetric unwrap has no padding oracle to hide (unlike RSA below), so the random CEK
    # is drawn only when it is needed; the failure still ends in the content's DecryptionError.
    try:
        cek = aes_key_unwrap(kek, encrypted_key)
    except (InvalidUnwrap, ValueError):
        return random_cek(enc)
    return cek if len(cek) == enc.key_size else random_cek(enc)


class AESGCMKeyWrap(AESKeyWrap):
    """A128GCMKW, A192GCMKW, A256GCMKW (RFC 7518 §4.7): ``iv`` and ``tag`` in the header."""

    static_header = False

    def wrap(
        self,
        key: Key,
        enc: ContentEncryption,
        cek: bytes | None,
        header: dict[str, Any],
        entropy: Entropy,
    ) -> tuple[bytes, bytes]:
        assert cek is not None
        iv = entropy.random(12, "kw_iv")
        sealed = AESGCM(key.crypto_key).encrypt(iv, cek, None)
        header["iv"] = b64encode_str(iv)
        header["tag"] = b64encode_str(sealed[-16:])
        return cek, sealed[:-16]

    def unwrap(
        self,
        key: Key,
        enc: ContentEncryption,
        encrypted_key: bytes,
        header: Mapping[str, Any],
        max_p2c: int,
    ) -> bytes:
        iv = header_bytes(header, "iv", 12)
        tag = header_bytes(header, "tag", 16)
        try:
            cek = AESGCM(key.crypto_key).decrypt(iv, encrypted_key + tag, None)
        except InvalidTag:
            return random_cek(enc)
        return cek if len(cek) == enc.key_size else random_cek(enc)


class PBES2(KeyManagement):
    """PBES2-HS256+A128KW, -HS384+A192KW, -HS512+A256KW (RFC 7518 §4.8), password keys only."""

    key_type = PasswordKey
    static_header = False

    def __init__(self, name: str, hash_name: str, size: int) -> None:
        self.name = name
        self.hash_name = hash_name
        self.size = size

    def _kek(self, password: bytes, salt: bytes, count: int) -> bytes:
        # RFC 7518 §4.8.1.1: the salt is UTF8(alg) || 0x00 || p2s.
        full_salt = self.name.encode("ascii") + b"\x00" + salt
        return hashlib.pbkdf2_hmac(self.hash_name, password, full_salt, count, self.size)

    def wrap(
        self,
        key: Key,
        enc: ContentEncryption,
        cek: bytes | None,
        header: dict[str, Any],
        entropy: Entropy,
    ) -> tuple[bytes, bytes]:
        assert cek is not None
        count = header.get("p2c", DEFAULT_P2C)
        if not _is_int(count) or count < MIN_P2C:
            raise UsageError(f"p2c must be an integer of at least {MIN_P2C}")
        salt = entropy.random(_SALT_SIZE, "p2s")
        header["p2s"] = b64encode_str(salt)
        header["p2c"] = count
        return cek, aes_key_wrap(self._kek(key.crypto_key, salt, count), cek)

    def unwrap(
        self,
        key: Key,
        enc: ContentEncryption,
        encrypted_key: bytes,
        header: Mapping[str, Any],
        max_p2c: int,
    ) -> bytes:
        count: int = header.get("p2c")  # type: ignore[assignment]  # Checked next.
        # The count is checked before any work: an attacker must not choose our CPU time.
        if not _is_int(count) or not MIN_P2C <= count <= max_p2c:
            raise MalformedTokenError(f"'p2c' must be an integer from {MIN_P2C} to {max_p2c}")
        salt = header_bytes(header, "p2s")
        if len(salt) < MIN_SALT_SIZE:
            raise MalformedTokenError(f"'p2s' must be at least {MIN_SALT_SIZE} bytes")
        return kw_unwrap(self._kek(key.crypto_key, salt, count), encrypted_key, enc)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class RSAOAEP(KeyManagement):
    """RSA-OAEP (SHA-1), RSA-OAEP-256/-384/-512 (RFC 7518 §4.3)."""

    key_type = RSAKey

    def __init__(self, name: str, hash_algorithm: hashes.HashAlgorithm) -> None:
        self.name = name
        self.padding: padding.AsymmetricPadding = padding.OAEP(
            padding.MGF1(hash_algorithm), hash_algorithm, None
        )

    def wrap(
        self,
        key: Key,
        enc: ContentEncryption,
        cek: bytes | None,
        header: dict[str, Any],
        entropy: Entropy,
    ) -> tuple[bytes, bytes]:
        assert cek is not None
        public: rsa.RSAPublicKey = key.verifier
        return cek, public.encrypt(cek, self.padding)

    def unwrap(
        self,
        key: Key,
        enc: ContentEncryption,
        encrypted_key: bytes,
        header: Mapping[str, Any],
        max_p2c: int,
    ) -> bytes:
        # The random CEK is drawn before decrypting, so both outcomes do the same work.
        fallback = random_cek(enc)
        try:
            cek = key.crypto_key.decrypt(encrypted_key, self.padding)
        except ValueError:
            return fallback
        return cek if len(cek) == enc.key_size else fallback


class RSA15(RSAOAEP):
    """RSA1_5 (RFC 7518 §4.2): legacy, only through :data:`jot.jose.hazmat.RSA1_5`."""

    def __init__(self) -> None:
        self.name = "RSA1_5"
        self.padding = padding.PKCS1v15()
