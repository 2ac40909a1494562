"""JSON Web Tokens and claim validation (jot.jose.jwt). The clock is always ``now=``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest

from jot.jose import KeySet, jws, jwt
from jot.jose._b64 import b64encode_str
from jot.jose.errors import (
    ClaimError,
    ExpiredTokenError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidTypeError,
    MalformedTokenError,
    MissingClaimError,
    NotYetValidError,
    UsageError,
)

from .helpers import private_key

NOW = 1_800_000_000
KEY = private_key("EdDSA")
PUBLIC = KEY.public()


def token(claims: Mapping[str, Any], **kwargs: Any) -> str:
    return jwt.encode(claims, KEY, **kwargs)


def decode(claims: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("now", NOW)
    return jwt.decode(token(claims), PUBLIC, **kwargs)


def test_encode_header_and_round_trip() -> None:
    claims = {"sub": "alice", "exp": NOW + 60, "groups": ["a", "b"], "name": "Zoë"}
    text = jwt.encode(claims, KEY, typ="jot+jwt", headers={"cty": "x"})
    full = jwt.decode_complete(text, PUBLIC, now=NOW, typ="jot+jwt")
    assert dict(full.header) == {"alg": "EdDSA", "kid": KEY.kid, "typ": "jot+jwt", "cty": "x"}
    assert full.claims == claims
    assert full.key is PUBLIC
    assert jwt.decode(text, KeySet([PUBLIC]), now=NOW) == claims
    assert (
        "typ" not in jwt.decode_complete(jwt.encode(claims, KEY, typ=None), PUBLIC, now=NOW).header
    )
    assert jwt.decode_complete(jwt.encode(claims, KEY), PUBLIC, now=NOW).header["typ"] == "JWT"


# -- exp, nbf, iat -----------------------------------------------------------------------------


def test_exp_is_required_by_default() -> None:
    with pytest.raises(MissingClaimError) as info:
        decode({"sub": "a"})
    assert info.value.claim == "exp"
    assert decode({"sub": "a"}, require=()) == {"sub": "a"}


@pytest.mark.parametrize(
    ("offset", "leeway", "valid"),
    [(1, 0, True), (0, 0, False), (-1, 0, False), (-9, 10, True), (-10, 10, False)],
)
def test_exp_with_leeway(offset: int, leeway: int, valid: bool) -> None:
    claims = {"exp": NOW + offset}
    if valid:
        assert decode(claims, leeway=leeway) == claims
    else:
        with pytest.raises(ExpiredTokenError, match="expired at 2027-01-15T0"):
            decode(claims, leeway=leeway)


@pytest.mark.parametrize(
    ("offset", "leeway", "valid"),
    [(0, 0, True), (-1, 0, True), (1, 0, False), (10, 10, True), (11, 10, False)],
)
def test_nbf_with_leeway(offset: int, leeway: int, valid: bool) -> None:
    claims = {"exp": NOW + 100, "nbf": NOW + offset}
    if valid:
        assert decode(claims, leeway=leeway) == claims
    else:
        with pytest.raises(NotYetValidError) as info:
            decode(claims, leeway=leeway)
        assert info.value.claim == "nbf"
        assert info.value.error == "not_yet_valid"


@pytest.mark.parametrize("leeway", [0, 0.5, 60])
@pytest.mark.parametrize("audience", [{"aud": "web"}, {}], ids=["usual-path", "general-path"])
def test_dates_too_large_for_a_float_are_compared_not_overflowed(
    leeway: float, audience: dict[str, str]
) -> None:
    # JSON integers have no bound; exp + leeway (a float) raised OverflowError.
    huge = 10**400
    options: dict[str, Any] = {"leeway": leeway, "audience": audience.get("aud")}
    assert decode({"exp": huge, **audience}, **options) == {"exp": huge, **audience}
    with pytest.raises(ExpiredTokenError):
        decode({"exp": -huge, **audience}, **options)
    with pytest.raises(NotYetValidError):
        decode({"exp": huge, "nbf": huge, **audience}, **options)
    with pytest.raises(NotYetValidError):
        decode({"exp": huge, "iat": huge, **audience}, **options)


@pytest.mark.parametrize(("offset", "valid"), [(0, True), (-100, True), (1, False), (30, False)])
def test_iat_in_the_future(offset: int, valid: bool) -> None:
    claims = {"exp": NOW + 100, "iat": NOW + offset}
    if valid:
        assert decode(claims) == claims
    else:
        with pytest.raises(NotYetValidError):
            decode(claims)
    assert decode(claims, leeway=30) == claims


def test_float_times_and_default_clock() -> None:
    claims = {"exp": NOW + 0.5, "nbf": NOW - 0.5, "iat": NOW - 0.5}
    assert decode(claims) == claims
    with pytest.raises(ExpiredTokenError):
        decode(claims, now=NOW + 0.5)
    with pytest.raises(ExpiredTokenError):
        jwt.decode(token({"exp": 1}), PUBLIC)  # the system clock is past 1970
    assert jwt.decode(token({"exp": 2**40}), PUBLIC) == {"exp": 2**40}


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "value", ["true", "false", '"1800000000"', "null", "[1]", '{"t":1}', "1e400", "-1e400"]
)
def test_numeric_dates_are_type_strict(name: str, value: str) -> None:
    # Raw JSON: jot's own encoder cannot even write some of these (1e400 is infinite).
    claims = f'{{"exp":{NOW + 100},"{name}":{value}}}'.replace(f'"exp":{NOW + 100},"exp"', '"exp"')
    with pytest.raises(ClaimError) as info:
        jwt.decode(jws.sign_compact(claims.encode(), KEY), PUBLIC, now=NOW)
    assert info.value.claim == name


def test_nan_in_a_token_is_malformed() -> None:
    # NaN cannot be encoded by jot; a forged token carrying it is not JSON.
    head = jwt.encode({"exp": NOW}, KEY).split(".")[0]
    body = b64encode_str(b'{"exp":NaN}')
    signature = b64encode_str(KEY.crypto_key.sign(f"{head}.{body}".encode()))
    with pytest.raises(MalformedTokenError):
        jwt.decode(f"{head}.{body}.{signature}", PUBLIC, now=NOW)


@pytest.mark.parametrize("claims", [{"exp": math.nan}, {"exp": math.inf}, {"x": object()}, {1: 2}])
def test_encode_refuses_what_json_cannot_carry(claims: dict[Any, Any]) -> None:
    with pytest.raises(UsageError):
        jwt.encode(claims, KEY)


# -- iss, sub, jti ---------------------------------------------------------------------------


def test_issuer_exact() -> None:
    claims = {"exp": NOW + 9, "iss": "https://auth.example"}
    assert decode(claims, issuer="https://auth.example") == claims
    assert decode(claims, issuer=["https://other", "https://auth.example"]) == claims
    for wrong in ("https://auth.example/", "https://AUTH.example", "https://auth", ["x"]):
        with pytest.raises(InvalidIssuerError):
            decode(claims, issuer=wrong)
    with pytest.raises(MissingClaimError):
        decode({"exp": NOW + 9}, issuer="https://auth.example")
    assert decode({"exp": NOW + 9}) == {"exp": NOW + 9}  # no issuer asked for: none checked


@pytest.mark.parametrize("name", ["iss", "sub", "jti"])
@pytest.mark.parametrize("value", [1, True, None, ["x"], {"x": 1}], ids=repr)
def test_string_claims_are_type_strict(name: str, value: Any) -> None:
    with pytest.raises(ClaimError):
        decode({"exp": NOW + 9, name: value}, issuer="1" if name == "iss" else None)


# -- aud ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aud", "audience", "valid"),
    [
        ("web", "web", True),
        ("web", ["db", "web"], True),
        (["db", "web"], "web", True),
        (["db", "web"], {"web"}, True),
        ("web", "db", False),
        (["db"], "web", False),
        ("web", "Web", False),
        ("web", [], False),
    ],
)
def test_audience(aud: Any, audience: Any, valid: bool) -> None:
    claims = {"exp": NOW + 9, "aud": aud}
    if valid:
        assert decode(claims, audience=audience) == claims
    else:
        with pytest.raises(InvalidAudienceError):
            decode(claims, audience=audience)


def test_token_with_aud_needs_an_audience() -> None:
    # RFC 7519 §4.1.3: a verifier that does not name itself must reject a token with aud.
    with pytest.raises(InvalidAudienceError):
        decode({"exp": NOW + 9, "aud": "web"})
    with pytest.raises(MissingClaimError):
        decode({"exp": NOW + 9}, audience="web")


@pytest.mark.parametrize("aud", [1, True, None, [], [1], ["web", 2], {"web": 1}], ids=repr)
def test_aud_is_type_strict(aud: Any) -> None:
    with pytest.raises(ClaimError):
        decode({"exp": NOW + 9, "aud": aud}, audience="web")


# -- required claims, typ, validators -------------------------------------------------------


def test_required_claims() -> None:
    claims = {"exp": NOW + 9, "sub": "a", "jti": "j"}
    assert decode(claims, require=("exp", "sub", "jti")) == claims
    with pytest.raises(MissingClaimError) as info:
        decode(claims, require=("exp", "nonce"))
    assert info.value.claim == "nonce"
    assert info.value.error == "missing_claim"


@pytest.mark.parametrize(
    ("actual", "expected", "valid"),
    [
        ("jot+jwt", "jot+jwt", True),
        ("application/jot+jwt", "jot+jwt", True),
        ("JOT+JWT", "application/jot+jwt", True),
        ("JWT", "jot+jwt", False),
        (None, "jot+jwt", False),
        ("at+jwt", "jot+jwt", False),
    ],
)
def test_typ(actual: str | None, expected: str, valid: bool) -> None:
    text = jwt.encode({"exp": NOW + 9}, KEY, typ=actual)
    if valid:
        assert jwt.decode(text, PUBLIC, typ=expected, now=NOW) == {"exp": NOW + 9}
    else:
        with pytest.raises(InvalidTypeError):
            jwt.decode(text, PUBLIC, typ=expected, now=NOW)


def test_typ_header_of_the_wrong_type() -> None:
    text = jwt.encode({"exp": NOW + 9}, KEY, typ=None, headers={"typ": 1})
    with pytest.raises(InvalidTypeError):
        jwt.decode(text, PUBLIC, typ="JWT", now=NOW)


def test_validators() -> None:
    seen: list[Mapping[str, Any]] = []

    def record(claims: Mapping[str, Any]) -> None:
        seen.append(claims)

    def admins_only(claims: Mapping[str, Any]) -> None:
        if "admin" not in claims.get("groups", []):
            raise ClaimError("not an admin", claim="groups")

    claims = {"exp": NOW + 9, "groups": ["admin"]}
    assert decode(claims, validators=[record, admins_only]) == claims
    assert seen == [claims]
    with pytest.raises(ClaimError, match="not an admin"):
        decode({"exp": NOW + 9, "groups": []}, validators=[admins_only])


def test_validators_run_after_the_registered_claims() -> None:
    called = []
    with pytest.raises(ExpiredTokenError):
        decode({"exp": NOW}, validators=[called.append])
    assert called == []


# -- what a JWT must be ------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"[]", b'"x"', b"1", b"not json", b'{"a":1,"a":2}'])
def test_claims_must_be_one_json_object(payload: bytes) -> None:
    text = jws.sign_compact(payload, KEY)
    with pytest.raises(MalformedTokenError):
        jwt.decode(text, PUBLIC, now=NOW, require=())


def test_unencoded_payload_is_not_a_jwt() -> None:
    text = jws.sign_compact(b'{"exp":1}', KEY, b64=False)
    with pytest.raises(MalformedTokenError):
        jwt.decode(text, PUBLIC, now=NOW)


def test_max_size() -> None:
    text = token({"exp": NOW + 9, "pad": "x" * 100})
    with pytest.raises(MalformedTokenError):
        jwt.decode(text, PUBLIC, now=NOW, max_size=len(text) - 1)
    assert jwt.decode(text, PUBLIC, now=NOW, max_size=len(text))["pad"]
    big = token({"exp": NOW + 9, "pad": "x" * jwt.MAX_SIZE})
    with pytest.raises(MalformedTokenError):
        jwt.decode(big, PUBLIC, now=NOW)


def test_error_codes_are_stable() -> None:
    codes = {
        ExpiredTokenError: "expired",
        NotYetValidError: "not_yet_valid",
        InvalidIssuerError: "invalid_issuer",
        InvalidAudienceError: "invalid_audience",
        InvalidTypeError: "invalid_type",
        MissingClaimError: "missing_claim",
        ClaimError: "invalid_claim",
    }
    for cls, code in codes.items():
        assert cls().error == code
        assert cls("x", claim="c").claim == "c"


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"exp": -(10**20)}, ExpiredTokenError),
        ({"exp": -1e300}, ExpiredTokenError),
        ({"exp": 10**30, "nbf": 10**20}, NotYetValidError),
        ({"exp": 10**30, "iat": 1e300}, NotYetValidError),
    ],
    ids=["exp-huge-negative", "exp-float", "nbf-far-future", "iat-far-future"],
)
def test_times_beyond_datetime_are_still_token_errors(claims: dict[str, Any], error: type) -> None:
    with pytest.raises(error, match="out of range"):
        decode(claims)
