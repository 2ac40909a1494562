"""Strict JSON for JOSE (jot.jose._json)."""

from __future__ import annotations

import json

import pytest

from jot.jose import _json
from jot.jose.errors import MalformedTokenError


def test_round_trip_is_compact_and_keeps_unicode() -> None:
    value = {"a": [1, 2.5, True, None], "name": "Zoë", "nested": {"x": "y"}}
    encoded = _json.dumps(value)
    assert encoded == '{"a":[1,2.5,true,null],"name":"Zoë","nested":{"x":"y"}}'.encode()
    assert _json.loads(encoded) == value
    assert _json.loads(encoded.decode()) == value


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":1,"a":2}',
        b'{"a":1,"b":{"c":1,"c":1}}',
        b'[{"x":1,"x":1}]',
        b'{"alg":"HS256","alg":"none"}',
        # Two spellings of the same name are duplicates too.
        b'{"alg":"HS256","\\u0061lg":"none"}',
    ],
)
def test_rejects_duplicate_member_names(text: bytes) -> None:
    with pytest.raises(MalformedTokenError, match="duplicate"):
        _json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        b"NaN",
        b'{"exp":NaN}',
        b'{"exp":Infinity}',
        b'{"exp":-Infinity}',
        b"\xff\xfe{}",  # not UTF-8
        b'{"a":"\xc3"}',  # truncated UTF-8 sequence
        b"\xef\xbb\xbf{}",  # a UTF-8 byte-order mark
        b"{'a':1}",
        b'{"a":1',
        b'{"a":1}{"b":2}',
        b"",
        b"[" * 100_000 + b"]" * 100_000,  # deep nesting
        b"1" * 5000,  # an integer too long for Python to parse safely
    ],
)
def test_rejects_invalid_json(text: bytes) -> None:
    with pytest.raises(MalformedTokenError):
        _json.loads(text)


@pytest.mark.parametrize("text", [b"[]", b"1", b'"x"', b"null", b"true"])
def test_loads_object_needs_an_object(text: bytes) -> None:
    _json.loads(text)  # Valid JSON, but not an object.
    with pytest.raises(MalformedTokenError, match="the header is not a JSON object"):
        _json.loads_object(text, "the header")


def test_dumps_refuses_nan() -> None:
    with pytest.raises(ValueError):
        _json.dumps({"exp": float("nan")})


@pytest.mark.parametrize(
    "text",
    [
        b'{"sub":"\\udc00"}',
        b'{"sub":"\\ud800x"}',
        b'["\\uDFFF"]',
        b'{"\\ud800":1}',
        '{"a":"\udc00"}',
    ],
)
def test_rejects_lone_surrogates(text: bytes | str) -> None:
    # "UTF-8 only": a lone surrogate is not Unicode text and would fail when encoded later.
    with pytest.raises(MalformedTokenError):
        _json.loads(text)


def test_escaped_surrogate_pairs_are_fine() -> None:
    assert _json.loads(b'{"e":"\\ud83d\\ude00","t":"\\u00e9"}') == {"e": "😀", "t": "é"}
    assert _json.loads('{"e":"😀"}') == {"e": "😀"}


def test_depth_is_bounded_before_parsing() -> None:
    # MAX_DEPTH levels parse; one more is refused even far below the recursion limit (and
    # so also when a program has raised that limit, where the C scanner would overflow).
    deepest = "[" * _json.MAX_DEPTH + "]" * _json.MAX_DEPTH
    assert _json.loads(deepest) == json.loads(deepest)
    too_deep = "[" * (_json.MAX_DEPTH + 1) + "]" * (_json.MAX_DEPTH + 1)
    with pytest.raises(MalformedTokenError, match="nested deeper"):
        _json.loads(too_deep)
    with pytest.raises(MalformedTokenError, match="nested deeper"):
        _json.loads('{"a":' * 40 + "1" + "}" * 40)


@pytest.mark.parametrize(
    "text",
    [
        # Many brackets, little depth.
        "[" + "[]," * 100 + "[]]",
        # Brackets inside strings, escaped quotes among them, do not nest.
        '{"a":"' + "[{" * 100 + '","b":["\\"[[[[","x"]}',
    ],
)
def test_brackets_that_do_not_nest_are_not_depth(text: str) -> None:
    assert _json.loads(text) == json.loads(text)


def test_unterminated_string_after_many_brackets_is_invalid_not_deep() -> None:
    with pytest.raises(MalformedTokenError, match="invalid JSON"):
        _json.loads("[" * 10 + '"' + "[" * 100 + "\\")
