"""Property tests (hypothesis): round trips, tampering, and arbitrary input."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jot.jose import KeySet, _json, hazmat, jwk, jws, jwt
from jot.jose._b64 import b64decode, b64encode, b64encode_str
from jot.jose.errors import InvalidKeyError, InvalidTokenError, JotError

from .helpers import ALGORITHMS, private_key

QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST_ALGORITHMS = ["HS256", "ES256", "EdDSA", "RS256"]
NOW = 1_800_000_000

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _verifier(alg: str) -> jwk.Key:
    key = private_key(alg)
    return key if key.kty == "oct" else key.public()


@pytest.mark.parametrize("alg", ALGORITHMS)
@QUICK
@given(payload=st.binary(max_size=200))
def test_compact_round_trip(alg: str, payload: bytes) -> None:
    token = jws.sign_compact(payload, private_key(alg))
    assert jws.verify_compact(token, _verifier(alg)).payload == payload


@pytest.mark.parametrize("alg", ["HS256", "EdDSA"])
@QUICK
@given(
    claims=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    b64=st.booleans(),
)
def test_jwt_and_json_round_trip(alg: str, claims: dict[str, Any], b64: bool) -> None:
    claims = {
        k: v
        for k, v in claims.items()
        if k not in ("exp", "nbf", "iat", "iss", "sub", "jti", "aud")
    }
    token = jwt.encode(claims, private_key(alg))
    assert jwt.decode(token, _verifier(alg), require=(), now=NOW) == claims
    payload = _json.dumps(claims)
    obj = jws.sign_json(payload, [jws.Signer(private_key(alg))], b64=b64)
    assert jws.verify_json(json.dumps(obj), _verifier(alg)).payload == payload


@pytest.mark.parametrize("alg", FAST_ALGORITHMS)
@QUICK
@given(data=st.data())
def test_changing_any_character_is_rejected(alg: str, data: st.DataObject) -> None:
    token = jwt.encode({"sub": "alice", "exp": NOW + 60}, private_key(alg))
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != token[index]))
    forged = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(InvalidTokenError):
        jwt.decode(forged, _verifier(alg), now=NOW)


@pytest.mark.parametrize("alg", FAST_ALGORITHMS)
@QUICK
@given(data=st.data())
def test_flipping_any_bit_is_rejected(alg: str, data: st.DataObject) -> None:
    token = jwt.encode({"sub": "alice", "exp": NOW + 60}, private_key(alg)).encode()
    bit = data.draw(st.integers(0, len(token) * 8 - 1), label="bit")
    forged = bytearray(token)
    forged[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidTokenError):
        jwt.decode(bytes(forged), _verifier(alg), now=NOW)


@pytest.mark.parametrize("alg", ["HS256", "EdDSA"])
@QUICK
@given(data=st.data())
def test_changing_any_decoded_byte_is_rejected(alg: str, data: st.DataObject) -> None:
    # Change one byte of the header, payload or signature bytes and re-encode canonically.
    token = jwt.encode({"sub": "alice", "exp": NOW + 60}, private_key(alg))
    segments = [b64decode(s) for s in token.split(".")]
    part = data.draw(st.integers(0, 2), label="part")
    index = data.draw(st.integers(0, len(segments[part]) - 1), label="index")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != segments[part][index]))
    changed = bytearray(segments[part])
    changed[index] = value
    segments[part] = bytes(changed)
    forged = ".".join(b64encode_str(s) for s in segments)
    with pytest.raises(InvalidTokenError):
        jwt.decode(forged, _verifier(alg), now=NOW)


@QUICK
@given(data=st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_input_raises_only_jot_errors(data: bytes | str) -> None:
    key = private_key("HS256")
    for decode in (
        lambda: jwt.decode(data, key, now=NOW),
        lambda: jws.verify_compact(data, KeySet([key]), algorithms=["HS256"]),
        lambda: jws.verify_json(data, key),
        lambda: hazmat.decode_unverified(data),
        lambda: b64decode(data),
        lambda: _json.loads(data),
    ):
        with contextlib.suppress(InvalidTokenError):
            decode()
    with contextlib.suppress(InvalidKeyError):
        jwk.import_key(data)
    with contextlib.suppress(InvalidKeyError):
        KeySet.from_json(data)


@QUICK
@given(
    segments=st.lists(
        st.binary(max_size=40) | json_values.map(lambda v: json.dumps(v).encode()),
        min_size=1,
        max_size=4,
    )
)
def test_well_encoded_garbage_raises_only_token_errors(segments: list[bytes]) -> None:
    token = ".".join(b64encode(s).decode() for s in segments)
    with pytest.raises(InvalidTokenError):
        jwt.decode(
            token,
            KeySet([private_key("HS256"), private_key("ES256").public()], allow_mixed=True),
            now=NOW,
        )


@QUICK
@given(
    header=st.dictionaries(st.sampled_from(["alg", "kid", "crit", "b64", "typ", "x"]), json_values)
)
def test_arbitrary_headers_raise_only_token_errors(header: dict[str, Any]) -> None:
    key = private_key("HS256")
    head = b64encode_str(json.dumps(header).encode())
    body = b64encode_str(b'{"exp":1800000060}')
    signature = b64encode_str(b"\x00" * 32)
    with pytest.raises(InvalidTokenError):
        jwt.decode(f"{head}.{body}.{signature}", KeySet([key]), now=NOW)


jwk_members = st.sampled_from(
    [
        "kty",
        "crv",
        "x",
        "y",
        "d",
        "n",
        "e",
        "k",
        "p",
        "q",
        "dp",
        "dq",
        "qi",
        "alg",
        "use",
        "key_ops",
        "kid",
        "oth",
    ]
)


@QUICK
@given(
    entries=st.lists(
        st.dictionaries(
            jwk_members,
            json_values | st.sampled_from(["oct", "EC", "RSA", "OKP", "P-256", "Ed25519", "AQAB"]),
        ),
        max_size=4,
    )
)
def test_arbitrary_jwks_are_reported_not_raised(entries: list[dict[str, Any]]) -> None:
    keys = KeySet.from_dict({"keys": entries})
    assert len(keys) + len(keys.rejected) == len(entries)
    for index, reason in keys.rejected:
        assert 0 <= index < len(entries)
        assert isinstance(reason, str)


def test_jot_errors_are_the_only_base() -> None:
    assert issubclass(InvalidTokenError, JotError)
    assert issubclass(InvalidKeyError, JotError)


times = (
    st.integers(-(2**80), 2**80) | st.floats(allow_nan=False, allow_infinity=False) | json_values
)


@QUICK
@given(
    claims=st.fixed_dictionaries(
        {},
        optional={
            "exp": times,
            "nbf": times,
            "iat": times,
            "iss": json_values,
            "aud": json_values | st.lists(st.text(max_size=5), max_size=3),
            "sub": json_values,
            "jti": json_values,
        },
    ),
    leeway=st.integers(0, 600),
)
def test_arbitrary_claims_are_accepted_or_rejected_with_token_errors(
    claims: dict[str, Any], leeway: int
) -> None:
    token = jwt.encode(claims, private_key("HS256"))
    with contextlib.suppress(InvalidTokenError):
        result = jwt.decode(
            token, private_key("HS256"), issuer="i", audience="a", leeway=leeway, now=NOW
        )
        assert result == claims
        assert claims["iss"] == "i"
