"""Sealing a JWE (RFC 7516 §5.1): the CEK, each recipient's key management, the content.

:func:`seal` is the one way to encrypt; the usual compact call's shortcut is in
:mod:`jot.jose._usual`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jot.jose import _json
from jot.jose._b64 import b64encode
from jot.jose._jwe.content import get_content_encryption
from jot.jose._jwe.keys import Entropy, KeyManagement
from jot.jose._jwe.opening import Sealed
from jot.jose._jwe.registry import default_algorithm, get_key_management
from jot.jose.errors import UsageError
from jot.jose.jwk import Key

__all__ = ["ENTROPY", "Recipient", "check_recipient", "seal"]

#: The randomness of every encryption, unless a test passes its own.
ENTROPY = Entropy()


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a JSON-serialized JWE: a key, its ``alg`` and its own header."""

    key: Key
    alg: str | KeyManagement | None = None
    header: Mapping[str, Any] = field(default_factory=dict)


def seal(
    plaintext: bytes,
    recipients: Sequence[Recipient],
    enc_name: str,
    protected: dict[str, Any],
    shared: dict[str, Any],
    aad: bytes | None,
    zip: str | None,
    entropy: Entropy,
) -> Sealed:
    """RFC 7516 §5.1: encrypt for each recipient; the steps' numbers are the RFC's."""
    if not isinstance(plaintext, bytes):
        raise UsageError("the plaintext must be bytes")
    if not recipients:
        raise UsageError("a JWE needs at least one recipient")
    enc = get_content_encryption(enc_name)
    headers = [dict(recipient.header) for recipient in recipients]
    algorithms = [check_recipient(recipient, enc, len(recipients)) for recipient in recipients]
    # Steps 1–2: the CEK is random, unless the one (direct) recipient determines it.
    cek: bytes | None = None if algorithms[0].direct else entropy.random(enc.key_size, "cek")
    encrypted_keys = []
    for index, recipient in enumerate(recipients):
        algorithm, header = algorithms[index], headers[index]
        target = _placement(protected, shared, header, len(recipients))
        target["alg"] = algorithm.name
        if recipient.key.kid is not None and not _has("kid", protected, shared, header):
            target["kid"] = recipient.key.kid
        cek, encrypted_key = algorithm.wrap(recipient.key, enc, cek, target, entropy)
        encrypted_keys.append(encrypted_key)
    assert cek is not None
    (shared if "enc" in shared else protected)["enc"] = enc.name
    if zip is not None:
        if zip != "DEF":
            raise UsageError("the only compression is 'DEF'")
        # RFC 7516 §4.1.3: zip must be integrity protected.
        protected["zip"] = "DEF"
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        plaintext = compressor.compress(plaintext) + compressor.flush()
    _check_disjoint(protected, shared, headers)
    iv = entropy.random(enc.iv_size, "iv")
    # Steps 14–15: the AAD is the encoded protected header, then "." and the JWE AAD.
    encoded_protected = b64encode(_json.dumps(protected)) if protected else b""
    full_aad = encoded_protected + (b"." + b64encode(aad) if aad is not None else b"")
    ciphertext, tag = enc.encrypt(cek, iv, plaintext, full_aad)
    return Sealed(
        encoded_protected.decode("ascii"), shared, headers, encrypted_keys, iv, ciphertext, tag,
        aad,
    )  # fmt: skip


def check_recipient(recipient: Recipient, enc: Any, count: int) -> KeyManagement:
    key = recipient.key
    if not isinstance(key, Key):
        raise UsageError("each recipient needs a jot.jose.jwk.Key")
    algorithm = get_key_management(recipient.alg or default_algorithm(key))
    algorithm.check_key(key, enc)
    if algorithm.direct and count > 1:
        raise UsageError(f"{algorithm.name} cannot be used with several recipients")
    if not key.allows(algorithm.encrypt_op):
        raise UsageError("the key's use or key_ops do not allow encrypting")
    return algorithm


def _has(name: str, *headers: Mapping[str, Any]) -> bool:
    return any(name in header for header in headers)


def _placement(
    protected: dict[str, Any], shared: dict[str, Any], header: dict[str, Any], count: int
) -> dict[str, Any]:
    """The header that receives a recipient's ``alg`` and algorithm parameters."""
    if header or count > 1:
        return header
    if "alg" in shared:
        return shared
    return protected


def _check_disjoint(
    protected: Mapping[str, Any], shared: Mapping[str, Any], headers: Sequence[Mapping[str, Any]]
) -> None:
    for header in headers:
        if protected.keys() & shared.keys() or (protected.keys() | shared.keys()) & header.keys():
            raise UsageError("a header parameter appears in more than one header")
