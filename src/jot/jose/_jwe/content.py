"""JWE content encryption (RFC 7518 §5): AES-CBC with HMAC-SHA2 and AES-GCM.

:meth:`ContentEncryption.decrypt` checks the exact CEK, IV and tag lengths (a caller of the
``_sized`` methods has checked them), and each algorithm authenticates before it releases any
plaintext; every decryption failure is the same :class:`DecryptionError`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jot.jose.errors import DecryptionError, UsageError

__all__ = [
    "CONTENT_ENCRYPTIONS",
    "DECRYPTION_FAILED",
    "ContentEncryption",
    "get_content_encryption",
]

#: The one message of every decryption failure, so that failures cannot be told apart.
DECRYPTION_FAILED = "the token could not be decrypted"


class ContentEncryption:
    """One JWE ``enc``: authenticated encryption with associated data."""

    name: str
    #: Bytes of the content encryption key (CEK).
    key_size: int
    iv_size: int
    tag_size: int

    def encrypt(self, cek: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """Return ``(ciphertext, tag)``."""
        if len(cek) != self.key_size or len(iv) != self.iv_size:
            raise UsageError(
                f"{self.name} needs a {self.key_size}-byte key and {self.iv_size}-byte IV"
            )
        return self.encrypt_sized(cek, iv, plaintext, aad)

    def decrypt(self, cek: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes) -> bytes:
        """Return the plaintext, or raise :class:`DecryptionError` (one uniform message)."""
        # RFC 7516 §5.2 step 14: the CEK, IV and tag have exactly the algorithm's sizes.
        if len(cek) != self.key_size or len(iv) != self.iv_size or len(tag) != self.tag_size:
            raise DecryptionError(DECRYPTION_FAILED)
        return self.decrypt_sized(cek, iv, ciphertext, tag, aad)

    def encrypt_sized(
        self, cek: bytes, iv: bytes, plaintext: bytes, aad: bytes
    ) -> tuple[bytes, bytes]:
        """:meth:`encrypt` for a CEK and IV that the caller made of the exact sizes."""
        raise NotImplementedError  # pragma: no cover - every algorithm overrides it

    def decrypt_sized(
        self, cek: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes
    ) -> bytes:
        """:meth:`decrypt` for a CEK, IV and tag that the caller checked are of the exact sizes."""
        raise NotImplementedError  # pragma: no cover - every algorithm overrides it

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class AESCBCHMAC(ContentEncryption):
    """A128CBC-HS256, A192CBC-HS384, A256CBC-HS512 (RFC 7518 §5.2)."""

    iv_size = 16

    def __init__(self, name: str, half: int, hash_name: str) -> None:
        self.name = name
        self.key_size = 2 * half
        self.tag_size = half
        self.hash_name = hash_name

    def _tag(self, mac_key: bytes, iv: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        # RFC 7518 §5.2.2.1 steps 4–6: AL is the AAD length in bits, a 64-bit big-endian int.
        al = (8 * len(aad)).to_bytes(8, "big")
        digest = hmac.digest(mac_key, aad + iv + ciphertext + al, self.hash_name)
        return digest[: self.tag_size]

    def encrypt_sized(
        self, cek: bytes, iv: bytes, plaintext: bytes, aad: bytes
    ) -> tuple[bytes, bytes]:
        mac_key, enc_key = cek[: self.tag_size], cek[self.tag_size :]
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        return ciphertext, self._tag(mac_key, iv, ciphertext, aad)

    def decrypt_sized(
        self, cek: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes
    ) -> bytes:
        half = self.tag_size
        # RFC 7518 §5.2.2.2: the tag is checked first (in constant time), so the padding is
        # never examined for a forged ciphertext and no padding oracle exists. The MAC is
        # _tag's, inline: one call less on every token.
        al = (8 * len(aad)).to_bytes(8, "big")
        digest = hmac.digest(cek[:half], aad + iv + ciphertext + al, self.hash_name)
        if not hmac.compare_digest(digest[:half], tag):
            raise DecryptionError(DECRYPTION_FAILED)
        enc_key = cek[half:]
        if not ciphertext or len(ciphertext) % 16:
            raise DecryptionError(DECRYPTION_FAILED)
        decryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise DecryptionError(DECRYPTION_FAILED) from None


class AESGCMEncryption(ContentEncryption):
    """A128GCM, A192GCM, A256GCM (RFC 7518 §5.3): 96-bit IV, 128-bit tag."""

    iv_size = 12
    tag_size = 16

    def __init__(self, name: str, key_size: int) -> None:
        self.name = name
        self.key_size = key_size

    def encrypt_sized(
        self, cek: bytes, iv: bytes, plaintext: bytes, aad: bytes
    ) -> tuple[bytes, bytes]:
        sealed = AESGCM(cek).encrypt(iv, plaintext, aad)
        return sealed[:-16], sealed[-16:]

    def decrypt_sized(
        self, cek: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes
    ) -> bytes:
        try:
            return AESGCM(cek).decrypt(iv, ciphertext + tag, aad)
        except InvalidTag:
            raise DecryptionError(DECRYPTION_FAILED) from None


#: Every content encryption algorithm, by ``enc`` name; all of them are allowed by default.
CONTENT_ENCRYPTIONS: Mapping[str, ContentEncryption] = {
    enc.name: enc
    for enc in (
        AESCBCHMAC("A128CBC-HS256", 16, "sha256"),
        AESCBCHMAC("A192CBC-HS384", 24, "sha384"),
        AESCBCHMAC("A256CBC-HS512", 32, "sha512"),
        AESGCMEncryption("A128GCM", 16),
        AESGCMEncryption("A192GCM", 24),
        AESGCMEncryption("A256GCM", 32),
    )
}


def get_content_encryption(name: object) -> ContentEncryption:
    """The ``enc`` object for a name; :class:`UsageError` if jot has none by that name."""
    enc = CONTENT_ENCRYPTIONS.get(name) if isinstance(name, str) else None
    if enc is None:
        raise UsageError(f"unknown content encryption {name!r}")
    return enc
