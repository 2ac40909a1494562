"""Telling encoded keys from secrets: PEM, DER, OpenSSH and JWK texts.

A bottom module (it imports no other key module): :meth:`OctKey.from_secret` asks it before it
takes bytes as an HMAC secret, and :mod:`jot.jose._keyio` shares its OpenSSH prefixes.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization

__all__ = ["SSH_PREFIXES", "looks_like_key_encoding"]

#: How an OpenSSH public key (or an authorized_keys entry's key) begins.
SSH_PREFIXES = (b"ssh-", b"ecdsa-sha2-", b"sk-")


def looks_like_key_encoding(data: bytes) -> bool:
    """True for bytes that are a PEM, DER, OpenSSH or JWK encoding of some key.

    Also caught: PEM after other text, an authorized_keys line with options, and the
    base64 body of a PEM without its armor (how some servers show their public key).
    """
    stripped = data.lstrip()
    if stripped.startswith((b"{", *SSH_PREFIXES)) or b"-----BEGIN" in stripped:
        return True
    if b" AAAA" in stripped and any(b" " + prefix in stripped for prefix in SSH_PREFIXES):
        return True
    if stripped[:1] == b"M":  # "M" starts the base64 of every DER SEQUENCE of a key.
        try:
            stripped = base64.b64decode(b"".join(stripped.split()), validate=True)
        except ValueError:
            return False
    return stripped[:1] == b"\x30" and _is_der_key(stripped)


def _is_der_key(data: bytes) -> bool:
    for load in (serialization.load_der_public_key, _load_der_private):
        try:
            load(data)
        except (ValueError, TypeError):
            continue
        except Exception:  # `cryptography` raises UnsupportedAlgorithm for odd key types.
            return True
        return True
    return False


def _load_der_private(data: bytes) -> Any:
    return serialization.load_der_private_key(data, None)
