"""Strict JSON for JOSE: UTF-8 only, no duplicate member names, no NaN or Infinity, and no
nesting deeper than :data:`MAX_DEPTH`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from jot.jose.errors import MalformedTokenError

__all__ = ["MAX_DEPTH", "dumps", "encode_text", "loads", "loads_object"]

#: No JOSE header, claim set or key set nests deeper than this. Checked before parsing: the C
#: scanner recurses once per level, and with a raised recursion limit a few thousand ``[``
#: overflow the C stack instead of raising RecursionError.
MAX_DEPTH = 32


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §5.2 step 4 allows either rejecting duplicates or taking the last; taking the
    # last lets two parsers disagree about a header, so jot rejects them.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise MalformedTokenError("duplicate member name in JSON")
    return result


def _reject_constant(name: str) -> Any:
    raise MalformedTokenError(f"invalid JSON value {name}")


_decoder = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# `JSONDecoder.decode` skips whitespace with two regex matches around this scanner. Tokens
# carry no whitespace, so the scanner is tried alone first; any other text takes the full path.
_scan_once = _decoder.scan_once  # type: ignore[attr-defined]  # set in __init__, not typed


# A string (to its end, if it has none: such text is refused later anyway) or a bracket. A
# string never fails to match, so finding them all is one linear pass.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\(?s:.)?)*"?|[][{}]')


def _too_deep(text: str) -> bool:
    depth = 0
    for token in _STRING_OR_BRACKET.findall(text):
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


def loads(data: bytes | str) -> Any:
    """Parse strict JSON; raise :class:`MalformedTokenError` on anything else."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        # Counting is cheap C; the walk runs only when the text could nest that deep.
        if text.count("[") + text.count("{") > MAX_DEPTH and _too_deep(text):
            raise MalformedTokenError(f"JSON nested deeper than {MAX_DEPTH} levels")
        try:
            value, end = _scan_once(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):
            value = _decoder.decode(text)
        if isinstance(data, str) or ("\\" in text and "\\u" in text):  # memchr first
            # An escape such as "\udc00" makes a lone surrogate, which is not Unicode text
            # and cannot be encoded as UTF-8 later: refuse it here (UTF-8 only).
            _encoder.encode(value).encode("utf-8")
        return value
    except (UnicodeError, ValueError, RecursionError):
        raise MalformedTokenError("invalid JSON") from None


def loads_object(data: bytes | str, what: str = "JSON") -> dict[str, Any]:
    """Parse strict JSON that must be an object."""
    value = loads(data)
    if not isinstance(value, dict):
        raise MalformedTokenError(f"{what} is not a JSON object")
    return value


# `JSONEncoder.encode` builds a new C encoder on every call (its circular-reference check
# needs a fresh dict). This one is built once, without that check: a circular value recurses
# until RecursionError, and is then handed to _encoder, which reports it as before.
_c_encode: Callable[[Any, int], Any] | None = (
    None
    if c_make_encoder is None
    else c_make_encoder(
        None, _encoder.default, encode_basestring, None, ":", ",", False, False, False
    )
)


def encode_text(value: Any) -> str:
    """Serialize compactly as text: what ``_encoder.encode`` returns, or raises."""
    if _c_encode is None:  # pragma: no cover - CPython always has the C encoder
        return _encoder.encode(value)
    try:
        return "".join(_c_encode(value, 0))
    except RecursionError:
        return _encoder.encode(value)


def dumps(value: Any) -> bytes:
    """Serialize compactly as UTF-8."""
    return encode_text(value).encode("utf-8")
