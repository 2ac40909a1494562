"""Hazardous materials: functions that skip a safety check. Read the docs before using one.

* :func:`decode_unverified` shows a token's header and payload **without checking anything**.
  Never base a decision on what it returns; it exists for tools such as ``jot decode``.
* :func:`import_weak_key` and :func:`weak_secret` accept keys under the safe minimum (RSA under
  2048 bits, HMAC secrets shorter than the hash) for talking to legacy systems.
* :data:`RSA1_5` is the legacy JWE key encryption RSAES-PKCS1-v1_5 (RFC 7518 §4.2), open to
  Bleichenbacher-style attacks wherever failures can be told apart. It is never allowed by
  name; pass this object as ``alg=`` or in ``algorithms=`` of :mod:`jot.jose.jwe`. Decryption
  is failure-uniform: a bad encrypted key yields a random CEK, so every failure is the same
  :class:`~jot.jose.errors.DecryptionError` after the same work.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from jot.jose import _json
from jot.jose._b64 import b64decode
from jot.jose._jwe.registry import RSA1_5
from jot.jose._keyio import import_key
from jot.jose._keys import Key, OctKey, rebound
from jot.jose.errors import JoseError, MalformedTokenError
from jot.jose.jws import MAX_SIZE

__all__ = ["RSA1_5", "Unverified", "decode_unverified", "import_weak_key", "weak_secret"]


class Unverified(NamedTuple):
    """An unchecked look inside a token."""

    #: The (protected) header.
    header: dict[str, Any]
    #: The payload parsed as JSON when it is JSON, else its bytes; ``None`` for a JWE.
    payload: Any


def decode_unverified(token: str | bytes) -> Unverified:
    """Split and decode a compact JWS (or read a compact JWE's header) with **no** checks."""
    if isinstance(token, bytes):
        token = token.decode("ascii", errors="replace")
    token = token.strip()
    if len(token) > MAX_SIZE:
        raise MalformedTokenError(f"the token is larger than {MAX_SIZE} bytes")
    segments = token.split(".")
    if len(segments) not in (3, 5):
        raise MalformedTokenError("a compact JWS has three segments (a JWE has five)")
    header = _json.loads_object(b64decode(segments[0]), "the header")
    if len(segments) == 5:
        return Unverified(header, None)
    raw = b64decode(segments[1]) if header.get("b64", True) is not False else segments[1].encode()
    try:
        payload: Any = _json.loads(raw)
    except JoseError:
        payload = raw
    return Unverified(header, payload)


def import_weak_key(data: Any, *, password: bytes | None = None, **binding: Any) -> Key:
    """As :func:`jot.jose.jwk.import_key`, but RSA keys under 2048 bits are accepted."""
    return import_key(data, password=password, weak_allowed=True, **binding)


def weak_secret(secret: bytes, *, alg: str | None = None, kid: str | None = None) -> OctKey:
    """An HMAC key that may be shorter than the hash output."""
    key = OctKey.from_secret(secret, alg=alg, kid=kid)
    return rebound(key, weak_allowed=True)
