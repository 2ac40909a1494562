"""JSON Web Signature (RFC 7515), unencoded payloads (RFC 7797), detached content.

Compact serialization::

    token = jws.sign_compact(b"payload", key)
    verified = jws.verify_compact(token, key_or_keyset, algorithms=["EdDSA"])
    verified.header, verified.payload, verified.key

JSON serialization (general with several signatures, or flattened with one)::

    obj = jws.sign_json(b"payload", [jws.Signer(key1), jws.Signer(key2, header={"kid": "x"})])
    verified = jws.verify_json(obj, keyset, algorithms=["ES256", "RS256"])

The algorithm is decided by the caller's allow-list, never by the token alone; the key is found
by ``kid`` in the caller's keys, never taken from ``jwk``/``jku``/``x5u``/``x5c`` headers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from jot.jose import _json, _usual
from jot.jose._b64 import b64decode, b64encode
from jot.jose._jws.header import check_crit, check_structure, select
from jot.jose.errors import (
    BadSignatureError,
    KeyNotFoundError,
    MalformedTokenError,
    UnsupportedAlgorithmError,
    UsageError,
)
from jot.jose.jwa import SIGNATURE_ALGORITHMS, SignatureAlgorithm, default_algorithm, get_algorithm
from jot.jose.jwk import Key, KeySet

__all__ = [
    "MAX_SIZE",
    "Signer",
    "VerifiedJWS",
    "allowed_algorithms",
    "sign_compact",
    "sign_json",
    "verify_compact",
    "verify_json",
]

#: Default limit on a serialized JWS, checked before anything is split or decoded.
MAX_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class VerifiedJWS:
    """The result of a successful verification."""

    header: Mapping[str, Any]
    payload: bytes
    key: Key


@dataclass(frozen=True, slots=True)
class Signer:
    """One signature of a JSON-serialized JWS: a key and its headers."""

    key: Key
    alg: str | None = None
    protected: Mapping[str, Any] = field(default_factory=dict)
    header: Mapping[str, Any] = field(default_factory=dict)


# -- algorithm allow-lists ----------------------------------------------------------------


def allowed_algorithms(keys: Key | KeySet, algorithms: Collection[str] | None) -> frozenset[str]:
    """The algorithms a verification accepts.

    With ``algorithms=None`` the key (or every key of the set) must be bound to one ``alg``;
    otherwise it is a :class:`UsageError`: the token must never choose its own algorithm.
    """
    if not isinstance(keys, Key | KeySet):
        raise UsageError("keys must be a jot.jose.jwk.Key or KeySet")
    if isinstance(keys, Key) and not keys.allows("verify"):
        raise UsageError("the key's use or key_ops do not allow verifying")
    if algorithms is None:
        # A JWKS also holds encryption keys (use "enc", or bound to a JWE algorithm): they
        # take no part in choosing the signature algorithms.
        members = [keys] if isinstance(keys, Key) else [k for k in keys if _for_signatures(k)]
        if not members or any(key.alg is None for key in members):
            raise UsageError("no algorithm allowed: pass algorithms=[...] or bind keys to an alg")
        names = frozenset(key.alg for key in members if key.alg is not None)
    else:
        if isinstance(algorithms, str):
            raise UsageError("algorithms must be a list of names, not a string")
        names = frozenset(algorithms)
        if not names:
            raise UsageError("no algorithm allowed: algorithms is empty")
    for name in names:
        algorithm = get_algorithm(name)
        if isinstance(keys, Key):
            algorithm.check_key(keys)  # A single key must fit every algorithm allowed.
    return names


def _for_signatures(key: Key) -> bool:
    return key.allows("verify") and (key.alg is None or key.alg in SIGNATURE_ALGORITHMS)


# -- compact serialization ----------------------------------------------------------------


def _signing_header(
    key: Key, alg: str | None, headers: Mapping[str, Any] | None
) -> tuple[SignatureAlgorithm, dict[str, Any]]:
    if not isinstance(key, Key):
        raise UsageError("key must be a jot.jose.jwk.Key")
    algorithm = get_algorithm(alg or default_algorithm(key))
    algorithm.check_key(key)
    if not key.is_private:
        raise UsageError("signing needs a private key")
    if not key.allows("sign"):
        raise UsageError("the key's use or key_ops do not allow signing")
    header: dict[str, Any] = {"alg": algorithm.name}
    if key.kid is not None:
        header["kid"] = key.kid
    if headers:
        if "b64" in headers:
            raise UsageError("pass b64=False rather than a 'b64' header (it needs 'crit')")
        header.update(headers)
        header["alg"] = algorithm.name
        if None in header.values():  # {"kid": None} leaves the kid out; null means nothing.
            header = {name: value for name, value in header.items() if value is not None}
    return algorithm, header


def sign_compact(
    payload: bytes,
    key: Key,
    *,
    alg: str | None = None,
    headers: Mapping[str, Any] | None = None,
    b64: bool = True,
    detached: bool = False,
) -> str:
    """Sign ``payload`` and return the compact serialization.

    :param alg: default: the key's own ``alg``, else its family's usual one.
    :param headers: extra protected header parameters (``typ``, ``cty``, …).
    :param b64: ``False`` for an RFC 7797 unencoded payload (``crit`` is set for you).
    :param detached: leave the payload segment empty (RFC 7515 appendix F).
    """
    algorithm, header = _signing_header(key, alg, headers)
    if not b64:
        header["b64"] = False
        header["crit"] = sorted({*header.get("crit", ()), "b64"})
        if b"." in payload and not detached:
            raise UsageError("an unencoded compact payload cannot contain '.'")
        if not detached and not _is_utf8(payload):
            raise UsageError("an unencoded compact payload must be UTF-8 text")
    encoded_header = b64encode(_json.dumps(header))
    encoded_payload = b64encode(payload) if b64 else payload
    signature = algorithm.sign(key, encoded_header + b"." + encoded_payload)
    body = b"" if detached else encoded_payload
    return b".".join((encoded_header, body, b64encode(signature))).decode("utf-8")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def verify_compact(
    token: str | bytes,
    keys: Key | KeySet,
    *,
    algorithms: Collection[str] | None = None,
    detached_payload: bytes | None = None,
    crit: Collection[str] = (),
    max_size: int = MAX_SIZE,
) -> VerifiedJWS:
    """Verify a compact JWS and return its header and payload.

    :param keys: the key, or a key set searched by ``kid``.
    :param algorithms: allowed ``alg`` values; default: the keys' own bound algorithms.
    :param detached_payload: the payload, when the token carries it detached.
    :param crit: extension header parameters that the caller understands.
    :raises InvalidTokenError: for anything wrong with the token.
    """
    if detached_payload is None:
        verified = _usual.verify(token, keys, algorithms, max_size)
        if verified is not None:
            return VerifiedJWS(*verified)
    allowed = allowed_algorithms(keys, algorithms)
    token = _text(token)
    if len(token) > max_size:
        raise MalformedTokenError(f"the token is larger than {max_size} bytes")
    signing_input, _, encoded_signature = token.rpartition(".")
    encoded_header, dot, encoded_payload = signing_input.partition(".")
    if not dot or "." in encoded_payload:  # The signature and header have none by now.
        raise MalformedTokenError("a compact JWS has exactly three segments")
    raw_header = _json.loads_object(b64decode(encoded_header), "the JWS header")
    b64 = check_structure(raw_header, protected=raw_header)
    check_crit(raw_header, crit)
    algorithm, key = select(keys, raw_header, allowed)
    signature = b64decode(encoded_signature)
    if detached_payload is not None:
        if encoded_payload:
            raise MalformedTokenError("the payload is detached but the token carries one")
        encoded = b64encode(detached_payload) if b64 else detached_payload
        data = encoded_header.encode("ascii") + b"." + encoded
    else:
        data = signing_input.encode("utf-8")
    if not algorithm.verify(key, data, signature):
        raise BadSignatureError("the signature does not verify")
    header = MappingProxyType(raw_header)
    if detached_payload is not None:
        return VerifiedJWS(header, detached_payload, key)
    payload = b64decode(encoded_payload) if b64 else encoded_payload.encode("utf-8")
    if b64 and "crit" not in raw_header:
        _usual.remember_verified(keys, algorithms, encoded_header, header, algorithm, key)
    return VerifiedJWS(header, payload, key)


def _text(token: str | bytes) -> str:
    if isinstance(token, bytes):
        try:
            return token.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedTokenError("the token is not ASCII") from None
    if not isinstance(token, str):
        raise UsageError("token must be str or bytes")
    return token


# -- JSON serialization (RFC 7515 §7.2) --------------------------------------------------


def sign_json(
    payload: bytes,
    signers: Sequence[Signer],
    *,
    flatten: bool = False,
    b64: bool = True,
    detached: bool = False,
) -> dict[str, Any]:
    """Sign with each signer; the general serialization, or flattened for one signer."""
    if not signers:
        raise UsageError("sign_json needs at least one signer")
    if flatten and len(signers) != 1:
        raise UsageError("the flattened serialization has exactly one signature")
    if not b64 and not detached and not _is_utf8(payload):
        raise UsageError("an unencoded JSON payload must be UTF-8 text")
    encoded_payload = b64encode(payload) if b64 else payload
    signatures = []
    for signer in signers:
        algorithm, protected = _signing_header(signer.key, signer.alg, signer.protected)
        if "kid" in signer.header:
            protected.pop("kid", None)
        if not b64:
            protected["b64"] = False
            protected["crit"] = sorted({*protected.get("crit", ()), "b64"})
        _disjoint(protected, signer.header)
        encoded_header = b64encode(_json.dumps(protected))
        entry: dict[str, Any] = {"protected": encoded_header.decode("ascii")}
        if signer.header:
            entry["header"] = dict(signer.header)
        entry["signature"] = b64encode(
            algorithm.sign(signer.key, encoded_header + b"." + encoded_payload)
        ).decode("ascii")
        signatures.append(entry)
    result: dict[str, Any] = {}
    if not detached:
        result["payload"] = encoded_payload.decode("utf-8")
    if flatten:
        result.update(signatures[0])
    else:
        result["signatures"] = signatures
    return result


def _disjoint(protected: Mapping[str, Any], unprotected: Mapping[str, Any]) -> None:
    if protected.keys() & unprotected.keys():
        raise MalformedTokenError("protected and unprotected headers share a parameter")


def verify_json(
    obj: Mapping[str, Any] | str | bytes,
    keys: Key | KeySet,
    *,
    algorithms: Collection[str] | None = None,
    detached_payload: bytes | None = None,
    crit: Collection[str] = (),
    max_size: int = MAX_SIZE,
) -> VerifiedJWS:
    """Verify a JSON-serialized JWS (general or flattened).

    The first signature that has a key among ``keys`` and verifies wins; a signature whose key
    is found but does not verify fails the whole object (it was tampered with).
    """
    allowed = allowed_algorithms(keys, algorithms)
    if isinstance(obj, str | bytes):
        if len(obj) > max_size:
            raise MalformedTokenError(f"the JWS is larger than {max_size} bytes")
        obj = _json.loads_object(obj, "the JWS")
    if not isinstance(obj, Mapping):
        raise UsageError("obj must be a JSON object, str or bytes")
    entries = _signature_entries(obj)
    encoded_payload = obj.get("payload")
    if detached_payload is None and not isinstance(encoded_payload, str):
        raise MalformedTokenError("the JWS has no payload")
    if detached_payload is not None and encoded_payload not in (None, ""):
        raise MalformedTokenError("the payload is detached but the JWS carries one")
    last_error: Exception = KeyNotFoundError("no signature has a matching key")
    for entry in entries:
        protected_segment, header, b64 = _json_entry_header(entry)
        check_crit(header, crit)
        try:
            algorithm, key = select(keys, header, allowed)
        except (KeyNotFoundError, UnsupportedAlgorithmError) as exc:
            last_error = exc
            continue
        if detached_payload is not None:
            body = b64encode(detached_payload) if b64 else detached_payload
        else:
            body = encoded_payload.encode("utf-8") if isinstance(encoded_payload, str) else b""
        data = protected_segment.encode("ascii") + b"." + body
        if not algorithm.verify(key, data, b64decode(_str(entry, "signature"))):
            raise BadSignatureError("a signature does not verify")
        if detached_payload is not None:
            payload = detached_payload
        else:
            payload = b64decode(body) if b64 else body
        return VerifiedJWS(MappingProxyType(header), payload, key)
    raise last_error


def _str(entry: Mapping[str, Any], name: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str):
        raise MalformedTokenError(f"the JWS member {name!r} is missing or not a string")
    return value


def _signature_entries(obj: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    if "signatures" in obj:
        if "signature" in obj or "protected" in obj or "header" in obj:
            raise MalformedTokenError("a JWS cannot be both general and flattened")
        entries = obj["signatures"]
        if not isinstance(entries, list) or not entries:
            raise MalformedTokenError("'signatures' must be a non-empty list")
        if not all(isinstance(entry, Mapping) for entry in entries):
            raise MalformedTokenError("each signature must be a JSON object")
        return entries
    return [obj]


def _json_entry_header(entry: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool]:
    protected_segment = entry.get("protected", "")
    if not isinstance(protected_segment, str):
        raise MalformedTokenError("'protected' must be a string")
    protected: dict[str, Any] = {}
    if protected_segment:
        protected = _json.loads_object(b64decode(protected_segment), "the protected header")
    unprotected = entry.get("header", {})
    if not isinstance(unprotected, Mapping):
        raise MalformedTokenError("'header' must be a JSON object")
    _disjoint(protected, unprotected)
    if "crit" in unprotected:
        raise MalformedTokenError("'crit' must be in the protected header")
    if "b64" in unprotected:
        raise MalformedTokenError("'b64' must be in the protected header")
    header = {**protected, **unprotected}
    return protected_segment, header, check_structure(header, protected)
