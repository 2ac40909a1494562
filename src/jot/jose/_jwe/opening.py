"""JWE serializations and decryption (RFC 7516 §5.2, §7): parse with limits, then open.

Every part's size is checked before it is decoded; the header rules (``crit``, ``zip``, which
parameter may sit in which header) are checked before any key is used; the tag is checked
before any plaintext is released.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from jot.jose import _json
from jot.jose._b64 import b64decode, b64encode_str
from jot.jose._jwe.content import CONTENT_ENCRYPTIONS, ContentEncryption, get_content_encryption
from jot.jose._jwe.keys import KeyManagement
from jot.jose._jwe.registry import KEY_MANAGEMENT_ALGORITHMS, default_algorithm, get_key_management
from jot.jose.errors import (
    DecryptionError,
    InvalidTokenError,
    KeyNotFoundError,
    MalformedTokenError,
    UnsupportedAlgorithmError,
    UnsupportedHeaderError,
    UsageError,
)
from jot.jose.jwk import Key, KeySet

__all__ = [
    "MAX_ENCRYPTED_KEY",
    "DecryptedJWE",
    "Limits",
    "Sealed",
    "Selection",
    "limits",
    "new_decrypted",
    "open_compact",
    "open_sealed",
    "parse_json",
    "split_compact",
]

# Largest encoded size of each part; the ciphertext is bounded by the whole token's limit.
_MAX_PARTS = {"protected": 16 * 1024, "encrypted_key": 4096, "iv": 64, "tag": 128, "aad": 64 * 1024}
# RFC 7516 §4.1.13: `crit` must not list the parameters that the JOSE specs define.
_REGISTERED = frozenset(
    {"alg", "enc", "zip", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty",
     "crit", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c"}
)  # fmt: skip


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


#: ``DecryptedJWE(...)`` without the Python frame of the named tuple's ``__new__``.
new_decrypted = tuple.__new__


@dataclass(frozen=True, slots=True)
class Limits:
    """What the caller allows when decrypting."""

    algorithms: Mapping[str, KeyManagement]
    encryptions: Mapping[str, ContentEncryption]
    crit: frozenset[str]
    allow_zip: bool
    max_inflated_size: int
    max_p2c: int


@dataclass(frozen=True, slots=True)
class Sealed:
    """A JWE's parts, whichever serialization they came from or go to."""

    protected: str
    shared: Mapping[str, Any]
    headers: Sequence[Mapping[str, Any]]
    encrypted_keys: Sequence[bytes]
    iv: bytes
    ciphertext: bytes
    tag: bytes
    aad: bytes | None

    def compact(self) -> str:
        """RFC 7516 §7.1; only one recipient and nothing outside the protected header."""
        if self.shared or any(self.headers) or self.aad is not None or len(self.headers) != 1:
            raise UsageError("the compact serialization has only a protected header, no AAD")
        parts = (self.encrypted_keys[0], self.iv, self.ciphertext, self.tag)
        return ".".join((self.protected, *map(b64encode_str, parts)))

    def json(self, flatten: bool) -> dict[str, Any]:
        """RFC 7516 §7.2: general, or flattened for one recipient."""
        result: dict[str, Any] = {}
        if self.protected:
            result["protected"] = self.protected
        if self.shared:
            result["unprotected"] = dict(self.shared)
        entries = []
        for header, encrypted_key in zip(self.headers, self.encrypted_keys, strict=True):
            entry: dict[str, Any] = {"header": dict(header)} if header else {}
            if encrypted_key:
                entry["encrypted_key"] = b64encode_str(encrypted_key)
            entries.append(entry)
        if flatten:
            if len(entries) != 1:
                raise UsageError("the flattened serialization has exactly one recipient")
            result.update(entries[0])
        else:
            result["recipients"] = entries
        if self.aad is not None:
            result["aad"] = b64encode_str(self.aad)
        result["iv"] = b64encode_str(self.iv)
        result["ciphertext"] = b64encode_str(self.ciphertext)
        result["tag"] = b64encode_str(self.tag)
        return result


def _part(name: str, value: object, max_size: int, required: bool = True) -> bytes:
    if value is None and not required:
        return b""
    if not isinstance(value, str):
        raise MalformedTokenError(f"the JWE member {name!r} is missing or not a string")
    if len(value) > _MAX_PARTS.get(name, max_size):
        raise MalformedTokenError(f"the JWE member {name!r} is too large")
    return b64decode(value)


def split_compact(token: str | bytes, max_size: int) -> tuple[str, str, str, str, str]:
    """The five segments of a compact JWE (RFC 7516 §7.1), sizes checked, not yet decoded."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedTokenError("the token is not ASCII") from None
    if not isinstance(token, str):
        raise UsageError("token must be str or bytes")
    if len(token) > max_size:
        raise MalformedTokenError(f"the token is larger than {max_size} bytes")
    parts = token.split(".", 5)  # One pass; at most six parts, however many dots.
    if len(parts) != 5:
        raise MalformedTokenError("a compact JWE has exactly five segments")
    protected, encrypted_key, iv, ciphertext, tag = parts
    if not protected:
        raise MalformedTokenError("a compact JWE needs a protected header")
    if len(protected) > _MAX_PARTS["protected"]:
        raise MalformedTokenError("the JWE member 'protected' is too large")
    return protected, encrypted_key, iv, ciphertext, tag


def _object(value: object, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedTokenError(f"the JWE member {name!r} must be a JSON object")
    return value


def parse_json(obj: Mapping[str, Any] | str | bytes, max_size: int) -> Sealed:
    """Read the general or flattened JSON serialization (RFC 7516 §7.2)."""
    if isinstance(obj, str | bytes):
        if len(obj) > max_size:
            raise MalformedTokenError(f"the JWE is larger than {max_size} bytes")
        obj = _json.loads_object(obj, "the JWE")
    if not isinstance(obj, Mapping):
        raise UsageError("obj must be a JSON object, str or bytes")
    if "recipients" in obj:
        if "header" in obj or "encrypted_key" in obj:
            raise MalformedTokenError("a JWE cannot be both general and flattened")
        entries = obj["recipients"]
        if not isinstance(entries, list) or not entries or len(entries) > 64:
            raise MalformedTokenError("'recipients' must be a list of 1 to 64 objects")
    else:
        entries = [obj]
    headers = [_object(_object(entry, "recipients").get("header"), "header") for entry in entries]
    keys = [
        _part("encrypted_key", entry.get("encrypted_key"), max_size, False) for entry in entries
    ]
    protected = obj.get("protected", "")
    _part("protected", protected, max_size)
    aad = obj.get("aad")
    return Sealed(
        protected, _object(obj.get("unprotected"), "unprotected"), headers, keys,
        _part("iv", obj.get("iv"), max_size), _part("ciphertext", obj.get("ciphertext"), max_size),
        _part("tag", obj.get("tag"), max_size),
        None if aad is None else _part("aad", aad, max_size),
    )  # fmt: skip


# -- opening ------------------------------------------------------------------------------


def _protected_header(sealed: Sealed) -> dict[str, Any]:
    if not sealed.protected:
        return {}
    return _json.loads_object(b64decode(sealed.protected), "the JWE protected header")


def _check_headers(protected: Mapping[str, Any], sealed: Sealed, limits: Limits) -> None:
    """The rules that hold whatever the key: placement, ``crit``, ``zip``."""
    shared = sealed.shared
    for header in sealed.headers:
        if protected.keys() & shared.keys() or (protected.keys() | shared.keys()) & header.keys():
            raise MalformedTokenError("a header parameter appears in more than one header")
        for name in ("crit", "zip", "enc"):
            if name in header or (name in shared and name != "enc"):
                raise MalformedTokenError(f"{name!r} must be in the protected header")
    _check_crit_zip(
        protected,
        limits,
        lambda name: any(name in {**protected, **shared, **h} for h in sealed.headers),
    )


def _check_crit_zip(
    protected: Mapping[str, Any], limits: Limits, present: Callable[[str], bool]
) -> None:
    """``crit`` and ``zip``; ``present(name)``: whether a recipient's header has ``name``.

    A compact token has no other header, so its placement rules always hold and it needs only
    this, with ``present`` the protected header's own membership test.
    """
    crit = protected.get("crit")
    if crit is not None:
        if (
            not isinstance(crit, list)
            or not crit
            or not all(isinstance(name, str) for name in crit)
            or len(set(crit)) != len(crit)
        ):
            raise MalformedTokenError("'crit' must be a non-empty list of unique names")
        if _REGISTERED.intersection(crit):
            raise MalformedTokenError("'crit' lists a header parameter defined by the specs")
        for name in crit:
            if name not in limits.crit:
                raise UnsupportedHeaderError(f"critical header parameter {name[:20]!r}")
            if not present(name):
                raise MalformedTokenError("'crit' lists a header parameter that is absent")
    if "zip" in protected:
        if protected["zip"] != "DEF":
            raise UnsupportedHeaderError("the only compression is 'DEF'")
        if not limits.allow_zip:
            raise UnsupportedHeaderError("compressed content is not allowed (allow_zip=False)")


def _content_encryption(header: Mapping[str, Any], limits: Limits) -> ContentEncryption:
    enc = header.get("enc")
    if not isinstance(enc, str):
        raise MalformedTokenError("the header has no 'enc'")
    if enc not in limits.encryptions:
        raise UnsupportedAlgorithmError(f"encryption {enc[:20]!r} is not allowed")
    return limits.encryptions[enc]


def _fits(key: Key, algorithm: KeyManagement, enc: ContentEncryption) -> bool:
    try:
        algorithm.check_key(key, enc)
    except UsageError:
        return False
    return key.is_private and key.allows(algorithm.decrypt_op)


def _select(
    keys: Key | KeySet, header: Mapping[str, Any], limits: Limits, enc: ContentEncryption
) -> tuple[KeyManagement, Key]:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedTokenError("the header has no 'alg'")
    algorithm = limits.algorithms.get(alg)
    if algorithm is None:
        raise UnsupportedAlgorithmError(f"algorithm {alg[:20]!r} is not allowed")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise MalformedTokenError("'kid' must be a string")
    if isinstance(keys, Key):
        candidates = [keys]
    elif kid is not None:
        candidates = [keys.get(kid)]
    else:
        candidates = [key for key in keys if _fits(key, algorithm, enc)]
    if len(candidates) != 1 or not _fits(candidates[0], algorithm, enc):
        raise KeyNotFoundError(f"no single key fits this recipient's {alg}")
    return algorithm, candidates[0]


def _inflate(data: bytes, max_size: int) -> bytes:
    # The output is bounded while inflating, so a zip bomb never gets fully expanded.
    inflater = zlib.decompressobj(-15)
    try:
        result = inflater.decompress(data, max_size + 1)
    except zlib.error:
        raise MalformedTokenError("the compressed content is invalid") from None
    if len(result) > max_size or inflater.unconsumed_tail:
        raise MalformedTokenError(f"the content inflates to more than {max_size} bytes")
    if not inflater.eof or inflater.unused_data:
        raise MalformedTokenError("the compressed content is invalid")
    return result


def open_sealed(
    sealed: Sealed, keys: Key | KeySet, limits: Limits
) -> tuple[Mapping[str, Any], bytes, Key, bytes | None]:
    """RFC 7516 §5.2: decrypt for the first recipient that has a key; the tag comes first."""
    protected = _protected_header(sealed)
    _check_headers(protected, sealed, limits)
    enc = _content_encryption({**protected, **sealed.shared}, limits)
    aad = sealed.protected.encode("ascii")
    if sealed.aad is not None:
        aad += b"." + b64encode_str(sealed.aad).encode("ascii")
    last_error: InvalidTokenError = KeyNotFoundError("no recipient has a matching key")
    for own, encrypted_key in zip(sealed.headers, sealed.encrypted_keys, strict=True):
        header = {**protected, **sealed.shared, **own}
        try:
            algorithm, key = _select(keys, header, limits, enc)
        except (KeyNotFoundError, UnsupportedAlgorithmError) as exc:
            if not isinstance(last_error, DecryptionError):
                last_error = exc
            continue
        if algorithm.direct and encrypted_key:
            raise MalformedTokenError(f"{algorithm.name} needs an empty encrypted key")
        cek = algorithm.unwrap(key, enc, encrypted_key, header, limits.max_p2c)
        try:
            plaintext = enc.decrypt(cek, sealed.iv, sealed.ciphertext, sealed.tag, aad)
        except DecryptionError as exc:
            last_error = exc
            continue
        if "zip" in protected:
            plaintext = _inflate(plaintext, limits.max_inflated_size)
        return MappingProxyType(header), plaintext, key, sealed.aad
    raise last_error


@dataclass(frozen=True, slots=True)
class Selection:
    """What a compact token's protected header decides, for given keys and limits."""

    #: The encoded protected header, as in the token.
    protected: str
    header: Mapping[str, Any]
    content: ContentEncryption
    algorithm: KeyManagement
    key: Key


def open_compact(
    token: str | bytes, keys: Key | KeySet, limits: Limits, max_size: int
) -> tuple[Selection, bytes]:
    """:func:`open_sealed` for a compact token (RFC 7516 §7.1): the selection its header
    made, and the plaintext."""
    protected, encrypted_key, iv, ciphertext, tag = split_compact(token, max_size)
    selection = _selection(protected, keys, limits)
    header, enc, algorithm = selection.header, selection.content, selection.algorithm
    # What _part checks, inline (one call less per segment on every token): the segments are
    # strings already, and the ciphertext cannot exceed max_size, which the token did not.
    if len(encrypted_key) > MAX_ENCRYPTED_KEY:
        raise MalformedTokenError("the JWE member 'encrypted_key' is too large")
    wrapped = b64decode(encrypted_key)
    if algorithm.direct and wrapped:
        raise MalformedTokenError(f"{algorithm.name} needs an empty encrypted key")
    if len(iv) > _MAX_PARTS["iv"]:
        raise MalformedTokenError("the JWE member 'iv' is too large")
    iv_bytes, ciphertext_bytes = b64decode(iv), b64decode(ciphertext)
    if len(tag) > _MAX_PARTS["tag"]:
        raise MalformedTokenError("the JWE member 'tag' is too large")
    tag_bytes = b64decode(tag)
    cek = algorithm.unwrap(selection.key, enc, wrapped, header, limits.max_p2c)
    plaintext = enc.decrypt(cek, iv_bytes, ciphertext_bytes, tag_bytes, protected.encode("ascii"))
    if "zip" in header:
        plaintext = _inflate(plaintext, limits.max_inflated_size)
    return selection, plaintext


#: The largest encoded encrypted key.
MAX_ENCRYPTED_KEY = _MAX_PARTS["encrypted_key"]


def _selection(protected: str, keys: Key | KeySet, limits: Limits) -> Selection:
    # One parse and the compact rules only: a compact token has no other header.
    header = _json.loads_object(b64decode(protected), "the JWE protected header")
    _check_crit_zip(header, limits, header.__contains__)
    enc = _content_encryption(header, limits)
    frozen: Mapping[str, Any] = MappingProxyType(header)
    algorithm, key = _select(keys, frozen, limits, enc)
    return Selection(protected, frozen, enc, algorithm, key)


# -- the allow-lists ------------------------------------------------------------------------


def _for_encryption(key: Key) -> bool:
    usable = key.allows("unwrapKey") or key.allows("decrypt") or key.allows("deriveKey")
    return usable and (
        key.alg is None or key.alg in KEY_MANAGEMENT_ALGORITHMS or key.alg in CONTENT_ENCRYPTIONS
    )


def limits(
    keys: Key | KeySet,
    algorithms: Collection[str | KeyManagement] | None,
    encryptions: Collection[str] | None,
    crit: Collection[str],
    allow_zip: bool,
    max_inflated_size: int,
    max_p2c: int,
) -> Limits:
    """The caller's options, checked against the keys: what :func:`open_compact` allows."""
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
