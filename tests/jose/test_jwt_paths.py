"""The less travelled paths of jwt.encode/decode: cache limits, odd argument types, bytes
tokens (which take the general path) and the public validate_claims."""

from __future__ import annotations

import json

import pytest

from jot.jose import _json, jwk, jws, jwt
from jot.jose.errors import (
    ClaimError,
    InvalidAudienceError,
    InvalidTypeError,
    MalformedTokenError,
    UsageError,
)

NOW = 1_800_000_000


@pytest.fixture(scope="module")
def key():
    return jwk.generate("oct", size=256, alg="HS256")


def _claims(**extra):
    return {"sub": "alice", "exp": NOW + 60, **extra}


def test_encode_refuses_a_non_key():
    with pytest.raises(UsageError):
        jwt.encode(_claims(), "not a key")  # type: ignore[arg-type]


@pytest.mark.parametrize("claims", [["a", "list"], "text", 42])
def test_encode_refuses_claims_that_are_not_a_mapping(key, claims):
    with pytest.raises(UsageError, match="mapping"):
        jwt.encode(claims, key)  # type: ignore[arg-type]


@pytest.mark.parametrize("claims", [{1: "x"}, {"n": float("nan")}, {"b": b"bytes"}])
def test_encode_refuses_claims_that_json_cannot_carry(key, claims):
    with pytest.raises(UsageError):
        jwt.encode(claims, key)


def test_encode_refuses_claims_nested_too_deeply(key):
    nested: list[object] = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(UsageError, match="nested too deeply"):
        jwt.encode({"deep": nested}, key)
    with pytest.raises(RecursionError):
        _json.encode_text(nested)


def test_encode_with_empty_headers_takes_the_general_path(key):
    token = jwt.encode(_claims(), key, headers={})
    assert jwt.decode(token, key, now=NOW) == _claims()


def test_encode_with_a_str_subclass_typ_is_not_cached_but_correct(key):
    class Typ(str):
        pass

    token = jwt.encode(_claims(), key, typ=Typ("jot+jwt"))
    assert jwt.decode(token, key, typ="jot+jwt", now=NOW)["sub"] == "alice"


def test_signer_cache_keeps_keys_apart(key):
    copy = jwk.import_key(key)
    first = jwt.encode(_claims(), copy)
    renamed = jwk.import_key(copy, kid="renamed")  # Same material, another binding.
    second = jwt.encode(_claims(), renamed)
    assert jws.verify_compact(first, copy).header["kid"] == key.kid
    assert jws.verify_compact(second, renamed).header["kid"] == "renamed"


def _token_with_payload(key, payload: bytes, typ: str = "JWT") -> bytes:
    return jws.sign_compact(payload, key, headers={"typ": typ}).encode("ascii")


def test_bytes_token_checks_typ(key):
    token = _token_with_payload(key, json.dumps(_claims()).encode())
    with pytest.raises(InvalidTypeError):
        jwt.decode(token, key, typ="jot+jwt", now=NOW)


def test_bytes_token_claims_must_be_an_object(key):
    token = _token_with_payload(key, b"[1, 2]")
    with pytest.raises(MalformedTokenError, match="not a JSON object"):
        jwt.decode(token, key, now=NOW)


def test_bytes_token_runs_validators(key):
    token = _token_with_payload(key, json.dumps(_claims()).encode())
    seen = []

    def reject(claims):
        seen.append(claims["sub"])
        raise ClaimError("rejected by a validator", claim="sub")

    with pytest.raises(ClaimError, match="validator"):
        jwt.decode(token, key, now=NOW, validators=[reject])
    assert seen == ["alice"]


def test_validate_claims_is_public_and_strict():
    jwt.validate_claims(_claims(aud="web"), audience="web", now=NOW)
    with pytest.raises(InvalidAudienceError):
        jwt.validate_claims(_claims(aud="web"), audience="db", now=NOW)

    class Name(str):
        pass

    # A str subclass (possible only from Python, never from JSON) is still a string.
    jwt.validate_claims(_claims(iss=Name("https://a")), issuer="https://a", now=NOW)


def test_check_audience_accepts_the_exact_string():
    jwt._check_audience({"aud": "web"}, "web")
    with pytest.raises(InvalidAudienceError):
        jwt._check_audience({"aud": "web"}, "db")
