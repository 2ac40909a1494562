"""The usual calls, made fast: every speed trick of jot.jose lives here, and nowhere else.

A verifier checks many tokens with the same keys, allow-list and few headers; a signer signs
with the same key and header. :func:`jws.verify_compact`, :func:`jwt.encode`,
:func:`jwt.decode`, :func:`jwe.encrypt_compact` and :func:`jwe.decrypt_compact` ask this
module first. It answers from what their general path checked before, or returns ``None``
before it has done anything a caller could see; the general path then runs as if this module
did not exist, and tells it (``remember_*``) what it checked.

What the usual path skips, and why that is safe:

* The checks of the keys against the allow-list (``jws.allowed_algorithms``, JWE's limits)
  and of a key for signing or encrypting. They depend only on the keys and the arguments, and
  a key or key set cannot change: an entry holds its keys (so their id stays theirs while it
  lives), the arguments as given (compared by identity, or a copy of the list by value).
* Parsing a protected header, its rules, and choosing its algorithm and key. They depend only
  on the header's text and the keys, so they are kept per header: only once a token with that
  header verified or decrypted (a forger cannot fill the cache with headers of his own), and
  only for headers that say nothing per token (no ``crit``, ``b64`` true, no ``zip``; no
  ``epk``, ``p2s`` or ``iv``, which JWE algorithms add per token).
* Encoding the protected header of a token, when it is the same for every token.

Everything else (the token's size and shape, base64url, the signature or the tag, the claims)
is done on every call by the functions the general path uses, so the results and the errors
are the same. ``tests/jose/test_usual.py`` runs each case through both paths and compares.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from os import urandom
from typing import Any, Protocol, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jot.jose import _json
from jot.jose._b64 import b64decode, b64encode
from jot.jose._jwe.content import DECRYPTION_FAILED, ContentEncryption, get_content_encryption
from jot.jose._jwe.keys import KeyManagement
from jot.jose._jwe.opening import (
    MAX_ENCRYPTED_KEY,
    DecryptedJWE,
    Limits,
    Sealed,
    Selection,
    new_decrypted,
    open_compact,
)
from jot.jose._jwe.sealing import ENTROPY, Recipient, check_recipient
from jot.jose.errors import BadSignatureError, DecryptionError
from jot.jose.jwa import SIGNATURE_ALGORITHMS, SignatureAlgorithm
from jot.jose.jwk import Key, KeySet

__all__ = [
    "SIZE",
    "Cache",
    "clear",
    "decrypt",
    "encrypt",
    "remember_opened",
    "remember_sealed",
    "remember_signed",
    "remember_verified",
    "sign",
    "verify",
]

#: The most entries a cache holds (keys, or one verifier's headers); a full one starts over.
SIZE = 256


class _Owned(Protocol):
    @property
    def owner(self) -> object: ...


_E = TypeVar("_E", bound=_Owned)
_V = TypeVar("_V")


class Cache(dict[int, _E]):
    """Entries made for an object (a key or key set), found by the object's identity.

    An entry holds its owner, so the id cannot be reused for another object while the entry
    lives; a hit is checked with ``entry.owner is owner``. The usual paths below do that
    inline, through the cache's ``get`` bound once: a method call (or even looking ``get`` up
    on a dict subclass) costs as much as the rest of a check.
    """

    __slots__ = ()

    def find(self, owner: object) -> _E | None:
        entry = self.get(id(owner))
        return entry if entry is not None and entry.owner is owner else None

    def keep(self, entry: _E) -> _E:
        _bounded(self, id(entry.owner), entry)
        return entry


def _bounded(entries: dict[Any, _V], name: Hashable, value: _V) -> None:
    # Starting over when full is simpler than LRU, and as good for a working set this small.
    if len(entries) >= SIZE and name not in entries:
        entries.clear()
    entries[name] = value


class _Listed(_Owned, Protocol):
    @property
    def algorithms(self) -> Any: ...


_L = TypeVar("_L", bound=_Listed)


def _entry_for(
    cache: Cache[_L], keys: Key | KeySet, algorithms: Any, make: Callable[[Any], _L]
) -> _L | None:
    """The entry for these keys and allow-list, made (by ``make(list)``) if there is none;
    ``None`` for a collection other than ``None``, a list or a tuple (the general path)."""
    entry = cache.find(keys)
    if entry is not None and entry.algorithms == algorithms:
        return entry
    if algorithms is not None and type(algorithms) is not tuple:
        if type(algorithms) is not list:
            return None
        algorithms = list(algorithms)  # A copy: the caller may change the list.
    return cache.keep(make(algorithms))


# -- JWS and JWT: signing -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signer:
    """Signing with a key, ``alg`` and ``typ`` (as ``jwt.encode`` got them), checked once."""

    owner: Key
    alg: str | None
    typ: str | None
    algorithm: SignatureAlgorithm
    #: ``base64url(header) + "."``: the header depends only on the key, alg and typ.
    prefix: bytes


_signers: Cache[Signer] = Cache()
_signer_of = _signers.get


def sign(payload: bytes, key: Key, alg: str | None, typ: str | None) -> str | None:
    """``jwt.encode``'s token for an encoded payload, or ``None`` for an unusual call."""
    signer = _signer_of(id(key))
    if signer is None or signer.owner is not key or signer.alg is not alg or signer.typ is not typ:
        return None
    signing_input = signer.prefix + b64encode(payload)
    signature = b64encode(signer.algorithm.sign(key, signing_input))
    return (signing_input + b"." + signature).decode("ascii")


def remember_signed(key: Key, alg: str | None, typ: str | None, token: str) -> None:
    """Keep what ``jwt.encode`` just signed ``token`` with (no extra headers)."""
    if (alg is None or type(alg) is str) and (typ is None or type(typ) is str):
        prefix = token[: token.index(".") + 1]
        name = _json.loads_object(b64decode(prefix[:-1]), "the JWS header")["alg"]
        algorithm = SIGNATURE_ALGORITHMS[name]
        _signers.keep(Signer(key, alg, typ, algorithm, prefix.encode("ascii")))


# -- JWS and JWT: verifying -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verified:
    """A protected header that verified a token: read-only, its algorithm, the key chosen."""

    header: Mapping[str, Any]
    algorithm: SignatureAlgorithm
    key: Key


@dataclass(frozen=True, slots=True)
class Verifier:
    """Verifying with keys and an allow-list: the headers that verified with them."""

    owner: Key | KeySet
    algorithms: Any
    headers: dict[str, Verified]


_verifiers: Cache[Verifier] = Cache()
_verifier_of = _verifiers.get


def verify(
    token: str | bytes, keys: Key | KeySet, algorithms: Any, max_size: int
) -> tuple[Mapping[str, Any], bytes, Key] | None:
    """``(header, payload, key)`` of a compact JWS with an attached payload and a header
    that verified with these keys and allow-list before; ``None`` for any other."""
    verifier = _verifier_of(id(keys))
    if (
        verifier is None
        or verifier.owner is not keys
        or verifier.algorithms != algorithms
        or type(token) is not str
        or len(token) > max_size
    ):
        return None
    signing_input, _, encoded_signature = token.rpartition(".")
    encoded_header, dot, encoded_payload = signing_input.partition(".")
    verified = verifier.headers.get(encoded_header)
    if verified is None or not dot or "." in encoded_payload:
        return None
    signature = b64decode(encoded_signature)
    key = verified.key
    if not verified.algorithm.verify(key, signing_input.encode("utf-8"), signature):
        raise BadSignatureError("the signature does not verify")
    return verified.header, b64decode(encoded_payload), key


def remember_verified(
    keys: Key | KeySet,
    algorithms: Any,
    segment: str,
    header: Mapping[str, Any],
    algorithm: SignatureAlgorithm,
    key: Key,
) -> None:
    """Keep a header (``segment``) that just verified a token without ``crit`` and with
    ``b64`` true, and the algorithm and key the general path chose for it."""
    verifier = _entry_for(_verifiers, keys, algorithms, lambda given: Verifier(keys, given, {}))
    if verifier is not None:
        _bounded(verifier.headers, segment, Verified(header, algorithm, key))


# -- JWE: encrypting ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sealer:
    """Encrypting to a key with ``alg`` and ``enc`` (the caller's objects), checked once."""

    owner: Key
    alg: Any
    enc: str
    algorithm: KeyManagement
    content: ContentEncryption
    #: The protected header before the algorithm adds its per-token parameters.
    base: Mapping[str, Any]
    #: The encoded protected header, when the algorithm adds none (else empty).
    prefix: bytes
    #: For ``dir`` (a direct algorithm whose header never changes): the key, which is the CEK.
    cek: bytes | None


_sealers: Cache[Sealer] = Cache()
_sealer_of = _sealers.get


def encrypt(plaintext: bytes, key: Key, alg: Any, enc: str) -> str | None:
    """``jwe.encrypt_compact``'s token for a call without headers or zip, or ``None``."""
    sealer = _sealer_of(id(key))
    if (
        sealer is None
        or sealer.owner is not key
        or sealer.alg is not alg
        or sealer.enc is not enc
        or type(plaintext) is not bytes
    ):
        return None
    content, cek, prefix = sealer.content, sealer.cek, sealer.prefix
    wrapped = b""  # dir (cek set): the checked key is the CEK, and no key is encrypted.
    if cek is None:
        algorithm = sealer.algorithm
        header: dict[str, Any] = {} if prefix else dict(sealer.base)
        cek = None if algorithm.direct else urandom(content.key_size)
        cek, encrypted_key = algorithm.wrap(key, content, cek, header, ENTROPY)
        if not prefix:  # RFC 7516 §5.1 step 13: the header with this token's parameters.
            header["enc"] = content.name
            prefix = b64encode(_json.dumps(header))
        if encrypted_key:
            wrapped = b64encode(encrypted_key)
    iv = urandom(content.iv_size)
    ciphertext, tag = content.encrypt_sized(cek, iv, plaintext, prefix)
    parts = (prefix, wrapped, b64encode(iv), b64encode(ciphertext), b64encode(tag))
    return b".".join(parts).decode("ascii")


def remember_sealed(key: Key, alg: Any, enc: str, sealed: Sealed) -> None:
    """Keep the checks of a call without headers or zip that just made ``sealed``."""
    # The general path took them, so alg is None, a str or an algorithm and enc a str: each
    # immutable, so the next call's are compared by identity.
    content = get_content_encryption(enc)
    algorithm = check_recipient(Recipient(key, alg), content, 1)  # It passed: it returns.
    base = {"alg": algorithm.name, **({"kid": key.kid} if key.kid is not None else {})}
    static = algorithm.static_header
    prefix = sealed.protected.encode("ascii") if static else b""
    cek = key.crypto_key if static and algorithm.direct else None
    _sealers.keep(Sealer(key, alg, enc, algorithm, content, base, prefix, cek))


# -- JWE: decrypting ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opening:
    """A protected header that decrypted a token, with what opening the next one needs."""

    header: Mapping[str, Any]
    #: The AAD: the header's own text, as bytes.
    aad: bytes
    content: ContentEncryption
    #: ``None`` for ``dir``: the key is the CEK.
    algorithm: KeyManagement | None
    key: Key
    #: The largest encrypted key, and the exact IV and tag, as encoded segments.
    max_wrapped: int
    iv_size: int
    tag_size: int
    #: For ``dir`` with AES-GCM: the key's (the CEK's) cipher, its key schedule made once.
    gcm: AESGCM | None = None


@dataclass(frozen=True, slots=True)
class Opener:
    """Decrypting with keys and an allow-list (the other options at their defaults)."""

    owner: Key | KeySet
    algorithms: Any
    limits: Limits
    headers: dict[str, Opening]


_openers: Cache[Opener] = Cache()
_opener_of = _openers.get


def decrypt(
    token: str | bytes, keys: Key | KeySet, algorithms: Any, max_size: int
) -> DecryptedJWE | None:
    """``jwe.decrypt_compact`` with the default options, for keys and an allow-list that
    decrypted before; ``None`` for another call."""
    opener = _opener_of(id(keys))
    if (
        opener is None
        or opener.owner is not keys
        or opener.algorithms != algorithms
        or type(token) is not str
        or len(token) > max_size
    ):
        return None
    parts = token.split(".", 5)
    if len(parts) != 5:
        return None
    protected, encrypted_key, iv, ciphertext, tag = parts
    opening = opener.headers.get(protected)
    # A segment of another size is left to open_compact, which says what is wrong with it:
    # so the IV and tag decoded here have exactly the sizes of enc.
    if (
        opening is None
        or len(encrypted_key) > opening.max_wrapped
        or len(iv) != opening.iv_size
        or len(tag) != opening.tag_size
    ):
        # A header with per-token parameters (ECDH-ES's epk) or not seen yet: the general
        # opening, with the limits checked once for these keys.
        selection, plaintext = open_compact(token, keys, opener.limits, max_size)
        _keep_opening(opener, selection)
        return new_decrypted(DecryptedJWE, (selection.header, plaintext, selection.key, None))
    content, algorithm, key = opening.content, opening.algorithm, opening.key
    iv_b, ciphertext_b, tag_b = b64decode(iv), b64decode(ciphertext), b64decode(tag)
    gcm = opening.gcm
    if gcm is not None:  # dir and AES-GCM: content.decrypt_sized, inline, with a kept cipher.
        try:
            plaintext = gcm.decrypt(iv_b, ciphertext_b + tag_b, opening.aad)
        except InvalidTag:
            raise DecryptionError(DECRYPTION_FAILED) from None
    else:
        if algorithm is None:  # dir: the key is the CEK (and the encrypted key is empty).
            cek = key.crypto_key
        else:
            wrapped = b64decode(encrypted_key) if encrypted_key else b""
            cek = algorithm.unwrap(key, content, wrapped, opening.header, opener.limits.max_p2c)
        plaintext = content.decrypt_sized(cek, iv_b, ciphertext_b, tag_b, opening.aad)
    return new_decrypted(DecryptedJWE, (opening.header, plaintext, key, None))


def remember_opened(
    keys: Key | KeySet, algorithms: Any, limits: Limits, selection: Selection
) -> None:
    """Keep the limits (of the default options) and the selection that just decrypted."""
    opener = _entry_for(_openers, keys, algorithms, lambda given: Opener(keys, given, limits, {}))
    if opener is not None:
        _keep_opening(opener, selection)


def _keep_opening(opener: Opener, selection: Selection) -> None:
    algorithm, content = selection.algorithm, selection.content
    if algorithm.static_header:  # Headers with an epk, p2s or iv are never seen twice.
        # A direct algorithm with a header that never changes is dir: the key is the CEK.
        direct = algorithm.direct
        opening = Opening(
            selection.header, selection.protected.encode("ascii"), content,
            None if direct else algorithm, selection.key, 0 if direct else MAX_ENCRYPTED_KEY,
            _encoded_size(content.iv_size), _encoded_size(content.tag_size),
            AESGCM(selection.key.crypto_key) if direct and content.name in _GCM else None,
        )  # fmt: skip
        _bounded(opener.headers, selection.protected, opening)


# The content encryptions whose dir openings keep an AESGCM cipher.
_GCM = frozenset({"A128GCM", "A192GCM", "A256GCM"})


def _encoded_size(size: int) -> int:
    return (4 * size + 2) // 3  # Unpadded base64url.


def clear() -> None:
    """Forget every entry (for tests, which compare a first call with a second)."""
    for cache in (_signers, _verifiers, _sealers, _openers):
        cache.clear()
