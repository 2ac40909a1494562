"""The error hierarchy (jot.jose.errors)."""

from __future__ import annotations

import inspect

import pytest

from jot.jose import errors
from jot.jose.jwk import Key, OctKey

ALL = [getattr(errors, name) for name in errors.__all__]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_one_root_and_stable_codes(cls: type[Exception]) -> None:
    assert issubclass(cls, errors.JotError)
    if issubclass(cls, errors.JoseError):
        error = cls()
        assert error.description  # the class docstring, when no description is given
        assert isinstance(error.error, str)
        assert (
            repr(error)
            == f"{cls.__name__}(error={error.error!r}, description={error.description!r})"
        )


def test_codes_are_unique() -> None:
    codes = [cls.error for cls in ALL if issubclass(cls, errors.JoseError)]
    assert len(codes) == len(set(codes))


def test_custom_code_and_description() -> None:
    error = errors.BadSignatureError("the signature does not verify", error="custom")
    assert (error.error, error.description, str(error)) == (
        "custom",
        "the signature does not verify",
        "the signature does not verify",
    )
    assert errors.BadSignatureError.error == "bad_signature"


def test_hierarchy_is_drawn_in_the_docstring() -> None:
    doc = inspect.getdoc(errors) or ""
    for cls in ALL:
        assert cls.__name__ in doc


def test_key_base_class_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        Key(b"secret")
    octet = OctKey(b"k" * 32)
    for method in (
        Key._public_params, Key._private_params, Key._public_crypto_key, Key._holds_private
    ):  # fmt: skip
        with pytest.raises(NotImplementedError):
            method(octet)
    assert Key.curve.fget(octet) is None  # type: ignore[attr-defined]
