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

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from jot.jose import _usual
from jot.jose._jwe.content import get_content_encryption
from jot.jose._jwe.keys import DEFAULT_P2C, MAX_P2C, KeyManagement, PasswordKey
from jot.jose._jwe.opening import (
    DecryptedJWE,
    limits,
    new_decrypted,
    open_compact,
    open_sealed,
    parse_json,
)
from jot.jose._jwe.registry import default_algorithm, get_key_management
from jot.jose._jwe.sealing import ENTROPY, Recipient, seal
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
    "check_key",
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
_NO_CRIT: tuple[str, ...] = ()


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


def check_key(key: Key, alg: str | KeyManagement, enc: str | None = None) -> None:
    """Raise :class:`UsageError` unless ``key`` fits the key management algorithm ``alg``
    (its type, its size and its binding), and the content encryption ``enc`` if given."""
    if not isinstance(key, Key):
        raise UsageError("key must be a jot.jose.jwk.Key")
    content = None if enc is None else get_content_encryption(enc)
    get_key_management(alg).check_key(key, content)


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
    usual = headers is None and zip is None
    if usual:
        token = _usual.encrypt(plaintext, key, alg, enc)
        if token is not None:
            return token
    kid = key.kid if isinstance(key, Key) else None
    protected = {"alg": None, **({"kid": kid} if kid is not None else {})}
    protected.update(headers or {})
    sealed = seal(plaintext, [Recipient(key, alg)], enc, protected, {}, None, zip, ENTROPY)
    token = sealed.compact()
    if usual:
        _usual.remember_sealed(key, alg, enc, sealed)
    return token


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
    sealed = seal(
        plaintext, recipients, enc, dict(protected or {}), dict(unprotected or {}), aad, zip,
        ENTROPY,
    )  # fmt: skip
    return sealed.json(flatten)


# -- decryption ---------------------------------------------------------------------------


def decrypt_compact(
    token: str | bytes,
    keys: Key | KeySet,
    *,
    algorithms: Collection[str | KeyManagement] | None = None,
    encryptions: Collection[str] | None = None,
    crit: Collection[str] = _NO_CRIT,
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
    # The defaults, by identity (an equal value passed takes the general path, to the same end).
    usual = (
        encryptions is None
        and crit is _NO_CRIT
        and allow_zip is False
        and max_inflated_size is MAX_INFLATED_SIZE
        and max_p2c is MAX_P2C
    )
    if usual:
        opened = _usual.decrypt(token, keys, algorithms, max_size)
        if opened is not None:
            return opened
    checked = limits(keys, algorithms, encryptions, crit, allow_zip, max_inflated_size, max_p2c)
    selection, plaintext = open_compact(token, keys, checked, max_size)
    if usual:
        _usual.remember_opened(keys, algorithms, checked, selection)
    return new_decrypted(DecryptedJWE, (selection.header, plaintext, selection.key, None))


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
    checked = limits(keys, algorithms, encryptions, crit, allow_zip, max_inflated_size, max_p2c)
    sealed = parse_json(obj, max_size)
    return DecryptedJWE(*open_sealed(sealed, keys, checked))
