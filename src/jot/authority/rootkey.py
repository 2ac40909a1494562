"""The root key: AES-256-GCM over the private parts of the signing keys.

It comes from ``JOT_ROOT_KEY`` (base64url of 32 bytes), from ``root_key_file``, or from
``<data_dir>/root.key``, which is generated on first start with mode 0600. A check value in
the database turns "wrong root key for this database" into one clear error at start.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jot.authority.settings import Settings

__all__ = ["RootKey", "RootKeyError", "load_root_key", "read_root_key_file"]

_NONCE = 12
_CHECK = b"jot root key check v1"


class RootKeyError(Exception):
    """The root key is missing, malformed or does not match the database."""


class RootKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise RootKeyError("the root key must be 32 bytes (base64url encoded)")
        self._aead = AESGCM(key)
        self._key = key

    def __repr__(self) -> str:
        return "RootKey(****)"

    def encrypt(self, plaintext: bytes, *, context: bytes) -> bytes:
        """``nonce || ciphertext``; ``context`` (the kid) is bound as associated data."""
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def decrypt(self, blob: bytes, *, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], context)
        except (InvalidTag, ValueError) as exc:
            raise RootKeyError("cannot decrypt with this root key") from exc

    def derive(self, purpose: bytes) -> bytes:
        """A 32-byte key for one ``purpose`` (HKDF-SHA256, RFC 5869): every replica with the
        same root key derives the same one, and no purpose's key reveals another's."""
        return HKDF(hashes.SHA256(), 32, salt=None, info=b"jot " + purpose).derive(self._key)

    def check_value(self) -> bytes:
        return self.encrypt(_CHECK, context=b"check")

    def matches(self, check_value: bytes) -> bool:
        try:
            return self.decrypt(check_value, context=b"check") == _CHECK
        except RootKeyError:
            return False


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise RootKeyError("the root key is not valid base64url") from exc


def load_root_key(settings: Settings, *, create: bool = True) -> RootKey:
    """The configured root key, generating ``<data_dir>/root.key`` (0600) when there is none
    (unless ``create`` is false)."""
    if settings.root_key is not None:
        return RootKey(_decode(settings.root_key.get_secret_value()))
    path = settings.root_key_file or settings.data_dir / "root.key"
    if settings.root_key_file is None and create:
        _create_if_missing(path)
    return read_root_key_file(path)


def read_root_key_file(path: Path) -> RootKey:
    """The root key in ``path`` (base64url of 32 bytes)."""
    try:
        return RootKey(_decode(path.read_text()))
    except FileNotFoundError as exc:
        raise RootKeyError(f"root key file {path} does not exist") from exc


def _create_if_missing(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=") + b"\n"
    # Written aside, then linked into place: a second process starting at the same moment
    # either sees no file or the whole key, and exactly one key wins.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, encoded)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()
