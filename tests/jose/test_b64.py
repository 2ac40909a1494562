"""Strict, canonical base64url (jot.jose._b64)."""

from __future__ import annotations

import base64

import pytest

from jot.jose._b64 import b64decode, b64encode, b64encode_str
from jot.jose.errors import MalformedTokenError


@pytest.mark.parametrize("length", range(40))
def test_round_trip_every_length(length: int) -> None:
    data = bytes(range(256))[length : length * 2] + b"\xff" * (length % 3)
    encoded = b64encode(data)
    assert encoded == base64.urlsafe_b64encode(data).rstrip(b"=")
    assert b64encode_str(data) == encoded.decode()
    assert b64decode(encoded) == data
    assert b64decode(encoded.decode()) == data


def test_empty() -> None:
    assert b64encode(b"") == b""
    assert b64decode("") == b""


@pytest.mark.parametrize(
    "text",
    [
        "YQ==",  # padding
        "YQ=",
        "YWI=",
        "YWJj=",
        "YW Jj",  # whitespace inside
        " YWJj",
        "YWJj\n",
        "YWJj\t",
        "+/8",  # the standard alphabet's characters
        "ab/c",
        "ab+c",
        "a",  # no encoding has length 4k+1
        "abcde",
        "YW*j",
        "YWJj.",
        "YWJjé",  # non-ASCII
        "\x00AAA",
    ],
)
def test_rejects_non_canonical_text(text: str) -> None:
    with pytest.raises(MalformedTokenError):
        b64decode(text)
    with pytest.raises(MalformedTokenError):
        b64decode(text.encode("utf-8"))


def test_rejects_every_non_zero_trailing_bits() -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, last in enumerate(alphabet):
        # 4k+2 characters: the last one carries 2 data bits and must end in 4 zero bits.
        if index % 16:
            with pytest.raises(MalformedTokenError, match="trailing bits"):
                b64decode("AAAAA" + last)
        else:
            assert len(b64decode("A" + last)) == 1
        # 4k+3 characters: the last one carries 4 data bits and must end in 2 zero bits.
        if index % 4:
            with pytest.raises(MalformedTokenError, match="trailing bits"):
                b64decode("AA" + last)
        else:
            assert len(b64decode("AA" + last)) == 2


def test_every_byte_string_has_exactly_one_encoding() -> None:
    # "QQ" is b"A"; the lax decoders of other libraries also accept "QR", "QS", ... "QQ==".
    assert b64decode("QQ") == b"A"
    for alias in ("QR", "QS", "QT", "QQ==", "QQ="):
        with pytest.raises(MalformedTokenError):
            b64decode(alias)


def test_rejects_each_character_outside_the_alphabet() -> None:
    allowed = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for byte in range(256):
        if byte in allowed:
            continue
        with pytest.raises(MalformedTokenError):
            b64decode(b"AA" + bytes([byte]) + b"A")
