"""Access-key format and password hashing.

An access key reads ``jot_ak_<id>_<secret>``: the fixed prefix lets secret scanners find
leaked keys, the id finds the row, and only the SHA-256 of the high-entropy secret is stored
(a slow hash buys nothing for 190 random bits). Passwords are hashed with argon2id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "ACCESS_KEY_PREFIX",
    "hash_password",
    "hash_secret",
    "new_access_key",
    "new_id",
    "parse_access_key",
    "secret_matches",
    "verify_password",
]

ACCESS_KEY_PREFIX = "jot_ak_"
_ALPHABET = string.ascii_letters + string.digits
_ID_LEN = 12
_SECRET_LEN = 32
_KEY_RE = re.compile(
    rf"^{ACCESS_KEY_PREFIX}([A-Za-z0-9]{{{_ID_LEN}}})_([A-Za-z0-9]{{{_SECRET_LEN}}})$"
)

_hasher = PasswordHasher()
# Verified against when the name is unknown, so that timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("jot-dummy-password")


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id() -> str:
    """A random row id (128 bits, hex)."""
    return secrets.token_hex(16)


def new_access_key() -> tuple[str, str, str]:
    """``(key_id, secret, full_key)`` for a fresh access key."""
    key_id, secret = _random(_ID_LEN), _random(_SECRET_LEN)
    return key_id, secret, f"{ACCESS_KEY_PREFIX}{key_id}_{secret}"


def parse_access_key(value: str) -> tuple[str, str] | None:
    """``(key_id, secret)``, or ``None`` when ``value`` is not an access key."""
    match = _KEY_RE.match(value)
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored_hash: str | None) -> bool:
    """Check a password; an identity without a password never matches, at the same cost."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
