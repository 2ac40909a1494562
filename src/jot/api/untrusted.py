"""JSON from outside: the one bounded parser every front end uses.

A body, a header or a token segment sent by a client can be huge, nested thousands deep (the C
scanner recurses once per level) or carry values that other parsers read differently (duplicate
member names, ``NaN``). :func:`loads` refuses all of these with one exception type, so a caller
answers 400/401, never 500. Token JOSE headers and payloads go through ``jot.jose``, which
applies the same rules.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_JSON_BYTES", "UntrustedJSONError", "loads"]

#: No request body or document jot accepts nests deeper than this.
MAX_DEPTH = 32
#: The default size bound; callers with a smaller natural bound pass their own.
MAX_JSON_BYTES = 1024 * 1024


class UntrustedJSONError(ValueError):
    """The input is not JSON jot accepts; the message is one line, safe to show the sender."""


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers may keep different copies of a duplicated member: refuse, never choose.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise UntrustedJSONError("duplicate member name in JSON")
    return result


def _reject_constant(name: str) -> Any:
    raise UntrustedJSONError(f"invalid JSON value {name}")


_decoder = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def _depth(value: Any) -> int:
    """The nesting depth of a parsed value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in item)
    return deepest


def loads(data: bytes | str, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` as strict JSON of at most ``max_bytes`` and ``max_depth`` levels.

    :raises UntrustedJSONError: too large, too deep, not UTF-8, not JSON, a duplicate member
        name or ``NaN``/``Infinity``.
    """
    if len(data) > max_bytes:
        raise UntrustedJSONError(f"JSON larger than {max_bytes} bytes")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = _decoder.decode(text)
    except UntrustedJSONError:
        raise
    except (UnicodeError, ValueError, RecursionError):
        raise UntrustedJSONError("invalid JSON") from None
    # Counting brackets is cheap C; the walk runs only when the text could nest that deep.
    if text.count("[") + text.count("{") > max_depth and _depth(value) > max_depth:
        raise UntrustedJSONError(f"JSON nested deeper than {max_depth} levels")
    return value
