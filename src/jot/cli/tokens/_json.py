"""An unchecked look inside a JWS or JWE in JSON serialization (RFC 7515 §7.2, RFC 7516 §7.2).

`jot.jose.hazmat.decode_unverified` reads compact tokens only; `jot decode` also shows the JSON
forms, general (several signatures) and flattened. Nothing here is verified or decrypted.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, NamedTuple

from jot.jose.errors import MalformedTokenError

__all__ = ["JSONToken", "decode_json_unverified"]


class JSONToken(NamedTuple):
    """What `jot decode` shows of a JSON-serialized token."""

    header: dict[str, Any]  # The (first) protected header.
    payload: Any  # Parsed JSON, bytes, or None for a JWE.
    encrypted: bool
    details: dict[str, Any]  # Unprotected headers and the number of signatures.


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise MalformedTokenError("the JSON has a duplicate member name")
    return result


def _loads(data: str | bytes, what: str) -> Any:
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise MalformedTokenError(f"{what} is not valid JSON") from None


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedTokenError(f"{what} is not a base64url string")
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise MalformedTokenError(f"{what} is not valid base64url") from None


def _protected(member: dict[str, Any]) -> dict[str, Any]:
    if "protected" not in member:
        return {}
    header = _loads(_b64(member["protected"], "the protected header"), "the protected header")
    if not isinstance(header, dict):
        raise MalformedTokenError("the protected header is not a JSON object")
    return header


def _payload(obj: dict[str, Any], header: dict[str, Any]) -> Any:
    raw = obj.get("payload")
    if raw is None:
        return b""  # Detached content (RFC 7515 appendix F).
    if header.get("b64") is False:  # RFC 7797: the payload is not encoded.
        data = raw.encode("utf-8") if isinstance(raw, str) else b""
    else:
        data = _b64(raw, "the payload")
    try:
        return _loads(data, "the payload")
    except MalformedTokenError:
        return data


def decode_json_unverified(text: str) -> JSONToken:
    """Read a JSON-serialized JWS or JWE **without any check**."""
    obj = _loads(text, "the token")
    if not isinstance(obj, dict):
        raise MalformedTokenError("a JSON-serialized token is a JSON object")
    if "ciphertext" in obj:
        details = {"serialization": "JWE JSON", "unprotected_header": obj.get("unprotected")}
        return JSONToken(_protected(obj), None, True, details)
    signatures = obj.get("signatures", [obj])
    if not isinstance(signatures, list) or not signatures:
        raise MalformedTokenError("'signatures' is not a non-empty list")
    if not all(isinstance(entry, dict) for entry in signatures):
        raise MalformedTokenError("a signature entry is not a JSON object")
    header = _protected(signatures[0])
    details = {
        "serialization": "JWS JSON general" if "signatures" in obj else "JWS JSON flattened",
        "signatures": len(signatures),
        "unprotected_header": signatures[0].get("header"),
    }
    return JSONToken(header, _payload(obj, header), False, details)
