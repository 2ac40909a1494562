"""JSON Web Encryption (RFC 7516) with the algorithms of RFC 7518 §4–5 and RFC 8037.

Compact serialization::

    token = jwe.encrypt_compact(b"secret", recipient_public_key, enc="A256GCM")
    opened = jwe.decrypt_compact(token, private_key_or_keyset, algorithms=["ECDH-ES"])
    opened.header, opened.plaintext, opened.key

JSON serialization (general with several recipients, or flattened with one), with extra
authenticated data::

    obj = jwe.encrypt_json(b"secret", [jwe.Recipient(k1), jwe.Recipient(k2)], aad=b"ctx")
    opened = jwe.decrypt_json(obj, keyset, algorithms=["RSA-OAEP-256", "A256KW"])

The caller's allow-lists decide the algorithms (``algorithms`` for ``alg``; ``encryptions``
for ``enc``, all six by default); the key is the caller's, found by ``kid``, never taken from
the token. Every decryption failure is a :class:`DecryptionError` with one message.
Compression (``zip: DEF``) is refused unless ``allow_zip=True``, and then bounded. PBES2 needs a
key made by :func:`password_key`; its iteration count is bounded by ``max_p2c``.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jot.jose import _json
from jot.jose._b64 import b64encode
from jot.jose._jwe_content import CONTENT_ENCRYPTIONS, get_content_encryption
from jot.jose._jwe_keys import (
    DEFAULT_P2C,
    MAX_P2C,
    Entropy,
    KeyManagement,
    PasswordKey,
)
from jot.jose._jwe_open import Limits, Sealed, open_sealed, parse_compact, parse_json
from jot.jose._jwe_registry import get_key_management
from jot.jose.errors import UsageError
from jot.jose.jwk import Key, KeySet, OctKey

__all__ = [
    "DEFAULT_ENC",
    "DEFAULT_P2C",
    "MAX_INFLATED_SIZE",
    "MAX_P2C",
    "MAX_SIZE",
    "DecryptedJWE",
    "Recipient",
    "decrypt_compact",
    "decrypt_json",
    "default_algorithm",
    "encrypt_compact",
    "encrypt_json",
    "password_key",
]

#: Default limit on a serialized JWE, checked before anything is split or decoded.
MAX_SIZE = 1024 * 1024
#: Default limit on the inflated plaintext when ``zip: DEF`` is allowed.
MAX_INFLATED_SIZE = 1024 * 1024
#: The content encryption used when the caller names none.
DEFAULT_ENC = "A256GCM"

_ENTROPY = Entropy()
_KW_BY_SIZE = {16: "A128KW", 24: "A192KW", 32: "A256KW"}
# Parameters that each key management algorithm writes into the header next to `alg`.
_ALG_PARAMS = ("epk", "iv", "tag", "p2s", "p2c")


@dataclass(frozen=True, slots=True)
class DecryptedJWE:
    """The result of a successful decryption."""

    #: The JOSE header of the recipient that decrypted: protected, shared and per-recipient.
    header: Mapping[str, Any]
    plaintext: bytes
    #: The key that decrypted.
    key: Key
    #: The JWE AAD of the JSON serialization, if any.
    aad: bytes | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a JSON-serialized JWE: a key, its ``alg`` and its own header."""

    key: Key
    alg: str | KeyManagement | None = None
    header: Mapping[str, Any] = field(default_factory=dict)


def password_key(
    password: bytes | str, *, alg: str = "PBES2-HS512+A256KW", kid: str | None = None
) -> OctKey:
    """A key made from a password, usable only with PBES2 (RFC 7518 §4.8)."""
    data = password.encode("utf-8") if isinstance(password, str) else bytes(password)
    if not data:
        raise UsageError("an empty password is not a key")
    if not alg.startswith("PBES2-"):
        raise UsageError("a password key is for PBES2 algorithms only")
    get_key_management(alg)
    return PasswordKey(data, alg=alg, use="enc", kid=kid)


def default_algorithm(key: Key) -> str:
    """The ``alg`` to encrypt to ``key`` with when the caller names none."""
    if key.alg is not None:
        return "dir" if key.alg in CONTENT_ENCRYPTIONS else key.alg
    if key.kty == "RSA":
        return "RSA-OAEP-256"
    if key.kty in ("EC", "OKP"):
        return "ECDH-ES"
    if isinstance(key, OctKey) and len(key.crypto_key) in _KW_BY_SIZE:
        return _KW_BY_SIZE[len(key.crypto_key)]
    raise UsageError(f"no default key management algorithm for this {key.kty} key")


# -- encryption ---------------------------------------------------------------------------


def encrypt_compact(
    plaintext: bytes,
    key: Key,
    *,
    alg: str | KeyManagement | None = None,
    enc: str = DEFAULT_ENC,
    headers: Mapping[str, Any] | None = None,
    zip: str | None = None,
) -> str:
    """Encrypt ``plaintext`` to ``key``; return the compact serialization.

    :param alg: the key management algorithm; default: :func:`default_algorithm`.
    :param enc: the content encryption algorithm.
    :param headers: extra protected header parameters (``cty``, ``typ``, ``p2c``, …).
    :param zip: ``"DEF"`` to compress first (beware: sizes then leak information).
    """
    protected = {"alg": None, **({"kid": key.kid} if key.kid is not None else {})}
    protected.update(headers or {})
    sealed = _seal(plaintext, [Recipient(key, alg)], enc, protected, {}, None, zip, _ENTROPY)
    return sealed.compact()


def encrypt_json(
    plaintext: bytes,
    recipients: Sequence[Recipient],
    *,
    enc: str = DEFAULT_ENC,
    protected: Mapping[str, Any] | None = None,
    unprotected: Mapping[str, Any] | None = None,
    aad: bytes | None = None,
    zip: str | None = None,
    flatten: bool = False,
) -> dict[str, Any]:
    """Encrypt to each recipient; the general JSON serialization, or flattened for one.

    A recipient's ``alg``, ``kid`` and algorithm parameters (``epk``, ``p2s``, …) go into its
    own header when it has one or when there are several recipients; otherwise into the shared
    unprotected header if the caller put ``alg`` there, else into the protected header.
    """
    sealed = _seal(
        plaintext, recipients, enc, dict(protected or {}), dict(unprotected or {}), aad, zip,
        _ENTROPY,
    )  # fmt: skip
    return sealed.json(flatten)


def _seal(
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
    algorithms = [_check_recipient(recipient, enc, len(recipients)) for recipient in recipients]
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


def _check_recipient(recipient: Recipient, enc: Any, count: int) -> KeyManagement:
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


# -- decryption ---------------------------------------------------------------------------


def decrypt_compact(
    token: str | bytes,
    keys: Key | KeySet,
    *,
    algorithms: Collection[str | KeyManagement] | None = None,
    encryptions: Collection[str] | None = None,
    crit: Collection[str] = (),
    max_size: int = MAX_SIZE,
    allow_zip: bool = False,
    max_inflated_size: int = MAX_INFLATED_SIZE,
    max_p2c: int = MAX_P2C,
) -> DecryptedJWE:
    """Decrypt a compact JWE.

    :param keys: the private key (or secret), or a key set searched by ``kid``.
    :param algorithms: allowed ``alg`` values; default: the keys' own bound algorithms.
    :param encryptions: allowed ``enc`` values; default: all six of RFC 7518 §5.
    :param crit: extension header parameters that the caller understands.
    :param allow_zip: accept ``zip: DEF``, inflating at most ``max_inflated_size`` bytes.
    :param max_p2c: the largest PBES2 iteration count accepted.
    :raises InvalidTokenError: for anything wrong with the token.
    """
    limits = _limits(keys, algorithms, encryptions, crit, allow_zip, max_inflated_size, max_p2c)
    sealed = parse_compact(token, max_size)
    return DecryptedJWE(*open_sealed(sealed, keys, limits))


def decrypt_json(
    obj: Mapping[str, Any] | str | bytes,
    keys: Key | KeySet,
    *,
    algorithms: Collection[str | KeyManagement] | None = None,
    encryptions: Collection[str] | None = None,
    crit: Collection[str] = (),
    max_size: int = MAX_SIZE,
    allow_zip: bool = False,
    max_inflated_size: int = MAX_INFLATED_SIZE,
    max_p2c: int = MAX_P2C,
) -> DecryptedJWE:
    """Decrypt a JSON-serialized JWE (general or flattened); see :func:`decrypt_compact`.

    The first recipient that has a key among ``keys`` and decrypts wins.
    """
    limits = _limits(keys, algorithms, encryptions, crit, allow_zip, max_inflated_size, max_p2c)
    sealed = parse_json(obj, max_size)
    return DecryptedJWE(*open_sealed(sealed, keys, limits))


def _limits(
    keys: Key | KeySet,
    algorithms: Collection[str | KeyManagement] | None,
    encryptions: Collection[str] | None,
    crit: Collection[str],
    allow_zip: bool,
    max_inflated_size: int,
    max_p2c: int,
) -> Limits:
    if not isinstance(keys, Key | KeySet):
        raise UsageError("keys must be a jot.jose.jwk.Key or KeySet")
    if algorithms is None:
        members = [keys] if isinstance(keys, Key) else list(keys)
        if not members or any(key.alg is None for key in members):
            raise UsageError("no algorithm allowed: pass algorithms=[...] or bind keys to an alg")
        algorithms = {default_algorithm(key) for key in members}
    elif isinstance(algorithms, str) or not algorithms:
        raise UsageError("algorithms must be a non-empty list")
    allowed = {algorithm.name: algorithm for algorithm in map(get_key_management, algorithms)}
    if isinstance(keys, Key):
        if not keys.is_private:
            raise UsageError("decryption needs a private key (or the shared secret)")
        for algorithm in allowed.values():
            algorithm.check_key(keys)  # A single key must fit every algorithm allowed.
            if not keys.allows(algorithm.decrypt_op):
                raise UsageError("the key's use or key_ops do not allow decrypting")
    if encryptions is None:
        encryptions = CONTENT_ENCRYPTIONS
    elif isinstance(encryptions, str) or not encryptions:
        raise UsageError("encryptions must be a non-empty list")
    encs = {name: get_content_encryption(name) for name in encryptions}
    if max_inflated_size < 1 or max_p2c < 1:
        raise UsageError("size and iteration limits must be positive")
    return Limits(allowed, encs, frozenset(crit), allow_zip, max_inflated_size, max_p2c)
