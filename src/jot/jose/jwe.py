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
from os import urandom
from typing import Any, NamedTuple

from jot.jose._b64 import b64decode, b64encode
from jot.jose._jwe.content import CONTENT_ENCRYPTIONS, get_content_encryption
from jot.jose._jwe.keys import (
    DEFAULT_P2C,
    MAX_P2C,
    KeyManagement,
    PasswordKey,
)
from jot.jose._jwe.opening import (
    USUAL_OPENINGS,
    Limits,
    open_compact,
    open_sealed,
    parse_json,
    remember_usual,
)
from jot.jose._jwe.registry import KEY_MANAGEMENT_ALGORITHMS, get_key_management
from jot.jose._jwe.sealing import (
    ENTROPY,
    USUAL_SEALS,
    Recipient,
    default_algorithm,
    seal_compact,
)
from jot.jose._jwe.sealing import seal as _seal
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

_ENTROPY = ENTROPY
# decrypt_compact's defaults of encryptions, crit, allow_zip, max_inflated_size and max_p2c.
_DEFAULT_OPTIONS = (None, (), False, MAX_INFLATED_SIZE, MAX_P2C)


class DecryptedJWE(NamedTuple):
    """The result of a successful decryption: immutable, read by name (or unpacked).

    A named tuple rather than a frozen dataclass: one is made for every decrypted token, and
    a tuple is built in one step where a frozen dataclass sets each field through
    ``object.__setattr__``.
    """

    #: The JOSE header of the recipient that decrypted: protected, shared and per-recipient.
    header: Mapping[str, Any]
    plaintext: bytes
    #: The key that decrypted.
    key: Key
    #: The JWE AAD of the JSON serialization, if any.
    aad: bytes | None = None


# DecryptedJWE(...) without the Python frame of the named tuple's __new__.
_new_tuple = tuple.__new__


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


# The options of the two compact calls are positional-or-keyword, not keyword-only, though
# callers should name them: CPython 3.11 looks each keyword-only default that a call leaves
# out up in a dict, on every call (about 970 instructions for seven, bench/instructions.py:
# a large part of decrypt_compact's own cost over the floor for a `dir` token).


def encrypt_compact(
    plaintext: bytes,
    key: Key,
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
    if headers is None and zip is None:
        # The usual call: what seal_compact prepared for this key, alg and enc (the same
        # objects); then seal_compact's work.
        usual = USUAL_SEALS.get(id(key))
        if usual is not None:
            usual_key, usual_alg, usual_enc, algorithm, content, prefix, direct = usual
            if (
                usual_key is key
                and usual_alg is alg
                and usual_enc is enc
                and type(plaintext) is bytes
            ):
                if direct:  # dir: the key is the CEK, and the encrypted key is empty.
                    cek, wrapped = key.crypto_key, b""
                else:
                    cek = urandom(content.key_size)
                    wrapped = b64encode(algorithm.wrap(key, content, cek, {}, _ENTROPY)[1])
                iv = urandom(content.iv_size)
                ciphertext, tag = content.encrypt_sized(cek, iv, plaintext, prefix)
                parts = (prefix, wrapped, b64encode(iv), b64encode(ciphertext), b64encode(tag))
                return b".".join(parts).decode("ascii")
    if zip is not None:
        protected = {"alg": None, **({"kid": key.kid} if key.kid is not None else {})}
        protected.update(headers or {})
        sealed = _seal(plaintext, [Recipient(key, alg)], enc, protected, {}, None, zip, _ENTROPY)
        return sealed.compact()
    return seal_compact(plaintext, key, alg, enc, headers)


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


# -- decryption ---------------------------------------------------------------------------


def decrypt_compact(
    token: str | bytes,
    keys: Key | KeySet,
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
    usual = (encryptions, crit, allow_zip, max_inflated_size, max_p2c) == _DEFAULT_OPTIONS
    parts = None
    if usual and type(token) is str and len(token) <= max_size:
        # The usual call: the key and allow-list (compared as given) that opened this header
        # before. What open_compact does after its cached selection, in the same order; a
        # segment of another size takes the general path, which says what is wrong with it,
        # so the IV and tag decode to exactly the sizes of enc.
        parts = token.split(".", 5)
        entry = USUAL_OPENINGS.get(parts[0]) if len(parts) == 5 else None
        if entry is not None:
            key, allowed, header, enc, algorithm, max_wrapped, iv_size, tag_size = entry
            protected, encrypted_key, iv, ciphertext, tag = parts
            if (
                key is keys
                and allowed == algorithms
                and len(encrypted_key) <= max_wrapped
                and len(iv) == iv_size
                and len(tag) == tag_size
            ):
                wrapped = b64decode(encrypted_key) if encrypted_key else b""
                iv_b, ct_b, tag_b = b64decode(iv), b64decode(ciphertext), b64decode(tag)
                cek = key.crypto_key if algorithm is None else (  # dir: the key is the CEK.
                    algorithm.unwrap(key, enc, wrapped, header, MAX_P2C))  # fmt: skip
                # The header opened a token before, so it is base64url: ASCII, as UTF-8.
                plaintext = enc.decrypt_sized(cek, iv_b, ct_b, tag_b, protected.encode())
                return _new_tuple(DecryptedJWE, (header, plaintext, key, None))
    limits = _cached_limits(
        keys, algorithms, encryptions, crit, allow_zip, max_inflated_size, max_p2c
    )
    opened = open_compact(token, keys, limits, max_size, parts)
    if parts is not None and isinstance(keys, Key):  # Five parts: the token opened.
        remember_usual(parts[0], keys, limits, algorithms)
    return DecryptedJWE(*opened)


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


_limits_cache: dict[Any, tuple[Key | KeySet, Limits]] = {}


def _cached_limits(
    keys: Key | KeySet,
    algorithms: Collection[str | KeyManagement] | None,
    encryptions: Collection[str] | None,
    crit: Collection[str],
    allow_zip: bool,
    max_inflated_size: int,
    max_p2c: int,
) -> Limits:
    """:func:`_limits`, checked once per key (or key set) and allow-lists: a recipient
    decrypts many tokens with the same ones (keys and key sets cannot change)."""
    cache_key: Any
    if (
        algorithms is None
        and encryptions is None
        and not crit
        and allow_zip is False
        and max_inflated_size == MAX_INFLATED_SIZE
        and max_p2c == MAX_P2C
    ):  # The defaults: the key set's id alone (an int never equals the tuples below).
        cache_key = id(keys)
        crit = ()
    else:
        cache_key = _long_key(keys, algorithms, encryptions, crit, allow_zip, max_inflated_size,
                              max_p2c)  # fmt: skip
    entry = None if cache_key is None else _limits_cache.get(cache_key)
    # Only a checked Key or KeySet is ever cached, so a hit needs no type check.
    if entry is not None and entry[0] is keys:
        return entry[1]
    if not isinstance(keys, Key | KeySet):
        raise UsageError("keys must be a jot.jose.jwk.Key or KeySet")
    limits = _limits(keys, algorithms, encryptions, crit, allow_zip, max_inflated_size, max_p2c)
    # Unhashable arguments (cache_key None) are always refused by _limits above.
    if cache_key is not None:  # pragma: no branch
        if len(_limits_cache) >= 256:
            _limits_cache.clear()
        _limits_cache[cache_key] = (keys, limits)
    return limits


def _long_key(
    keys: Key | KeySet,
    algorithms: Collection[str | KeyManagement] | None,
    encryptions: Collection[str] | None,
    crit: Collection[str],
    allow_zip: bool,
    max_inflated_size: int,
    max_p2c: int,
) -> tuple[Any, ...] | None:
    """The cache key for any arguments; ``None`` if they cannot be hashed."""
    try:
        cache_key = (
            id(keys), None if algorithms is None else tuple(algorithms),
            None if encryptions is None else tuple(encryptions), tuple(crit), allow_zip,
            max_inflated_size, max_p2c,
        )  # fmt: skip
        hash(cache_key)
    except TypeError:
        return None
    return cache_key


def _for_encryption(key: Key) -> bool:
    usable = key.allows("unwrapKey") or key.allows("decrypt") or key.allows("deriveKey")
    return usable and (
        key.alg is None or key.alg in KEY_MANAGEMENT_ALGORITHMS or key.alg in CONTENT_ENCRYPTIONS
    )


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
        # A JWKS also holds signing keys (use "sig", or bound to a JWS algorithm): they take
        # no part in choosing the key management algorithms.
        members = [keys] if isinstance(keys, Key) else [k for k in keys if _for_encryption(k)]
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
