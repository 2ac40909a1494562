"""Strict, canonical base64url without padding (RFC 7515 §2, RFC 4648 §5).

Rejected: padding, whitespace, characters outside the URL-safe alphabet, a length that no
encoding produces, and non-zero trailing bits (so that every byte string has exactly one
encoding and a token cannot be altered without changing its bytes).
"""

from __future__ import annotations

import binascii
from binascii import a2b_base64

from jot.jose.errors import MalformedTokenError

__all__ = ["b64decode", "b64encode", "b64encode_str"]

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Map the URL-safe alphabet onto the standard one and everything else onto "*", which
# `a2b_base64(strict_mode=True)` rejects. "+", "/" and "=" must not pass through unchanged.
_TO_STANDARD = bytes(
    (c if c in _ALPHABET else ord("*")) if chr(c) not in "-_" else ord("+" if c == 45 else "/")
    for c in range(256)
)
# The last character of an encoding of length 4k+2 carries 2 data bits (4 zero bits), of
# length 4k+3 carries 4 data bits (2 zero bits). Only these characters are canonical. By
# length mod 4: a length of 4k needs no test, and no length 4k+1 is an encoding (no last
# character is right).
_CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(),
    frozenset(),
    frozenset(_ALPHABET[i] for i in range(0, 64, 16)),
    frozenset(_ALPHABET[i] for i in range(0, 64, 4)),
)
_PADDING = (b"", b"", b"==", b"=")


def b64decode(data: str | bytes) -> bytes:
    """Decode strict base64url; raise :class:`MalformedTokenError` on anything else."""
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError:
            raise MalformedTokenError("invalid base64url: non-ASCII character") from None
    tail = len(data) & 3
    if tail and data[-1] not in _CANONICAL_LAST[tail]:  # One test for both rules.
        raise MalformedTokenError(
            "invalid base64url: impossible length"
            if tail == 1
            else "invalid base64url: non-zero trailing bits"
        )
    try:
        return a2b_base64(data.translate(_TO_STANDARD) + _PADDING[tail], strict_mode=True)
    except binascii.Error:
        raise MalformedTokenError("invalid base64url: character outside the alphabet") from None


def b64encode(data: bytes) -> bytes:
    """Encode as base64url without padding."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_FROM_STANDARD)


def b64encode_str(data: bytes) -> str:
    """Encode as base64url without padding, as text."""
    return b64encode(data).decode("ascii")


_FROM_STANDARD = bytes.maketrans(b"+/", b"-_")
