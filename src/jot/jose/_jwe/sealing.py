"""Sealing a JWE (RFC 7516 §5.1): the CEK, each recipient's key management, the content.

:func:`seal` does the general case. :func:`seal_compact` is the common compact call (one key,
a header that does not change from token to token): its checks and its encoded protected header
are prepared once per key and reused, keyed by the key object's identity and a snapshot of its
binding, so a key changed in place is checked again; each entry holds the key, so its id cannot
be reused while it is cached.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jot.jose import _json
from jot.jose._b64 import b64encode
from jot.jose._jwe.content import CONTENT_ENCRYPTIONS, ContentEncryption, get_content_encryption
from jot.jose._jwe.keys import Entropy, KeyManagement
from jot.jose._jwe.opening import Sealed
from jot.jose._jwe.registry import KEY_MANAGEMENT_ALGORITHMS, get_key_management
from jot.jose.errors import UsageError
from jot.jose.jwk import Key, OctKey

__all__ = [
    "ENTROPY",
    "USUAL_SEALS",
    "Recipient",
    "check_recipient",
    "default_algorithm",
    "seal",
    "seal_compact",
]

#: The randomness of every encryption, unless a test passes its own.
ENTROPY = Entropy()
_KW_BY_SIZE = {16: "A128KW", 24: "A192KW", 32: "A256KW"}
_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a JSON-serialized JWE: a key, its ``alg`` and its own header."""

    key: Key
    alg: str | KeyManagement | None = None
    header: Mapping[str, Any] = field(default_factory=dict)


def default_algorithm(key: Key) -> str:
    """The ``alg`` to encrypt to ``key`` with when the caller names none."""
    if key.alg is not None:
        if key.alg in CONTENT_ENCRYPTIONS:
            return "dir"
        if key.alg not in KEY_MANAGEMENT_ALGORITHMS and key.alg != "RSA1_5":
            raise UsageError(f"the key is bound to {key.alg}: it is not an encryption key")
        return key.alg
    if key.kty == "RSA":
        return "RSA-OAEP-256"
    if key.kty in ("EC", "OKP"):
        return "ECDH-ES"
    if isinstance(key, OctKey) and len(key.crypto_key) in _KW_BY_SIZE:
        return _KW_BY_SIZE[len(key.crypto_key)]
    raise UsageError(f"no default key management algorithm for this {key.kty} key")


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


# -- the prepared compact path ---------------------------------------------------------------

# The checked algorithms and the protected header before the algorithm adds its parameters:
# encoded once when the algorithm adds none (dir, AES-KW, RSA-OAEP), else per token.
_SCALARS = frozenset({str, int, bool})
_Prepared = tuple[Key, KeyManagement, ContentEncryption, dict[str, Any], bytes]
_prepared: dict[tuple[Any, ...], _Prepared] = {}

#: The usual call, with no extra header and an algorithm that adds none, by the key's id:
#: ``(key, alg, enc name, algorithm, enc, encoded header, key is the CEK)``.
#: :func:`jot.jose.jwe.encrypt_compact` encrypts with an entry while the key, the ``alg`` and
#: ``enc`` objects are the same (a key cannot change), before it would call
#: :func:`seal_compact`.
_Usual = tuple[Key, Any, str, KeyManagement, ContentEncryption, bytes, bool]
USUAL_SEALS: dict[int, _Usual] = {}


def seal_compact(
    plaintext: bytes,
    key: Key,
    alg: str | KeyManagement | None,
    enc_name: str,
    headers: Mapping[str, Any] | None,
) -> str:
    """A compact JWE for one key; the same result as :func:`seal` (with fresh randomness)."""
    items = tuple(headers.items()) if headers else ()
    entry = None
    if (
        type(plaintext) is bytes
        and (alg is None or type(alg) is str or isinstance(alg, KeyManagement))
        and type(enc_name) is str
        and (not items or all(type(n) is str and type(v) in _SCALARS for n, v in items))
    ):
        # True == 1 and they hash alike: the value's type is part of the key.
        typed = tuple((n, type(v), v) for n, v in items) if items else ()
        cache_key = (id(key), alg, enc_name, typed)
        entry = _prepared.get(cache_key)
        if entry is None or entry[0] is not key:
            entry = _prepare(key, alg, enc_name, headers)
            if entry is not None:
                if len(_prepared) >= _CACHE_SIZE:
                    _prepared.clear()
                _prepared[cache_key] = entry
        if entry is not None and entry[4] and not items:
            _remember_usual(entry, alg, enc_name)
    if entry is None:
        protected = {"alg": None, **({"kid": key.kid} if key.kid is not None else {})}
        protected.update(headers or {})
        return seal(plaintext, [Recipient(key, alg)], enc_name, protected, {}, None, None,
                    ENTROPY).compact()  # fmt: skip
    _, algorithm, enc, base, prefix = entry
    cek = None if algorithm.direct else os.urandom(enc.key_size)
    if prefix and cek is None:  # dir: the checked key is the CEK.
        cek, encrypted_key = key.crypto_key, b""
    elif prefix:
        cek, encrypted_key = algorithm.wrap(key, enc, cek, {}, ENTROPY)
    else:
        header = dict(base)
        cek, encrypted_key = algorithm.wrap(key, enc, cek, header, ENTROPY)
        header["enc"] = enc.name
        prefix = b64encode(_json.dumps(header))
    iv = os.urandom(enc.iv_size)
    # The CEK is the checked key (dir), derived or drawn for enc, and the IV drawn for enc.
    ciphertext, tag = enc.encrypt_sized(cek, iv, plaintext, prefix)
    wrapped = b64encode(encrypted_key) if encrypted_key else b""
    parts = (prefix, wrapped, b64encode(iv), b64encode(ciphertext), b64encode(tag))
    return b".".join(parts).decode("ascii")


def _prepare(
    key: Key, alg: str | KeyManagement | None, enc_name: str, headers: Mapping[str, Any] | None
) -> _Prepared | None:
    """The checks and the header of :func:`seal`; ``None`` for headers it must handle."""
    enc = get_content_encryption(enc_name)
    algorithm = check_recipient(Recipient(key, alg), enc, 1)
    if headers and not {"alg", "enc", "zip", "epk", "iv", "tag", "p2s"}.isdisjoint(headers):
        return None
    base: dict[str, Any] = {"alg": algorithm.name}
    if key.kid is not None:
        base["kid"] = key.kid
    base.update(headers or {})
    if not algorithm.static_header:
        return key, algorithm, enc, base, b""
    return key, algorithm, enc, base, b64encode(_json.dumps({**base, "enc": enc.name}))


def _remember_usual(entry: _Prepared, alg: str | KeyManagement | None, enc_name: str) -> None:
    key, algorithm, enc, _, prefix = entry
    if len(USUAL_SEALS) >= _CACHE_SIZE and id(key) not in USUAL_SEALS:
        USUAL_SEALS.clear()
    # Direct with a header encoded once is dir: the checked key is the CEK.
    USUAL_SEALS[id(key)] = (key, alg, enc_name, algorithm, enc, prefix, algorithm.direct)
