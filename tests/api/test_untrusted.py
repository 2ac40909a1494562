import pytest

from jot.api.untrusted import MAX_DEPTH, UntrustedJSONError, loads


def test_plain_values_parse():
    assert loads(b'{"a": [1, 2, {"b": null}], "c": "\\u00e9"}') == {
        "a": [1, 2, {"b": None}],
        "c": "é",
    }
    assert loads("[]") == []


def test_nesting_at_the_bound_parses_and_one_more_is_refused():
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(UntrustedJSONError, match="nested deeper"):
        loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


def test_many_brackets_side_by_side_are_not_depth():
    assert len(loads("[" + ",".join(["[]"] * 500) + "]")) == 500
    assert loads('{"a": "' + "[" * 100 + '"}') == {"a": "[" * 100}


@pytest.mark.parametrize("depth", [3_000, 100_000])
def test_deep_nesting_that_would_exhaust_the_stack_is_refused(depth):
    with pytest.raises(UntrustedJSONError):
        loads("[" * depth, max_bytes=depth)
    with pytest.raises(UntrustedJSONError):
        loads('{"a":' * depth + "1" + "}" * depth, max_bytes=10 * depth)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": 1, "a": 2}', "duplicate"),
        (b"[NaN]", "NaN"),
        (b'{"x": -Infinity}', "Infinity"),
        (b"\xff\xfe", "invalid JSON"),
        (b'{"a": 1', "invalid JSON"),
        (b"", "invalid JSON"),
        (b"[1] [2]", "invalid JSON"),
    ],
)
def test_malformed_input_is_one_error_type(data, reason):
    with pytest.raises(UntrustedJSONError, match=reason):
        loads(data)


def test_size_bound_is_checked_before_parsing():
    with pytest.raises(UntrustedJSONError, match="larger than 10 bytes"):
        loads(b"[" + b"1," * 10 + b"1]", max_bytes=10)
