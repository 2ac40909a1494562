"""JSON Web Tokens (RFC 7519) with the RFC 8725 best practices.

:func:`decode` verifies the signature *and* validates the claims: ``exp`` (required by
default), ``nbf`` and ``iat`` with a leeway, an exact ``iss``, the ``aud`` (a token that names
an audience is refused unless the caller says which audience it is), required claims, the
``typ`` header and custom validators. Comparisons are type-strict: ``"1" != 1``, ``True`` is
not a number. The clock is a parameter (``now=``), so tests never sleep.

Nested JWTs (RFC 7519 §5.2, §7.1): ``encode(..., encrypt_to=key)`` signs, then encrypts the
signed JWT into a compact JWE with ``cty: JWT``; ``decode(..., decrypt_with=key)`` requires a
JWE, decrypts it, and then verifies the inner JWT as usual: both layers must be valid. Whether
a token is encrypted is the caller's choice, never guessed from the token.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jot.jose import _json, _usual, jwe, jws
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
from jot.jose.jwk import Key, KeySet

__all__ = [
    "MAX_SIZE",
    "Token",
    "Validator",
    "decode",
    "decode_complete",
    "encode",
    "validate_claims",
]

#: Default limit on a token's size, checked before anything is split or decoded.
MAX_SIZE = 64 * 1024

_REQUIRE_EXP = ("exp",)

#: A custom check: it receives the claims and raises :class:`ClaimError` to reject them.
Validator = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Token:
    """A verified token: its header, its validated claims and the key that verified it."""

    header: Mapping[str, Any]
    claims: dict[str, Any]
    key: Key
    #: The JWE header of a nested JWT, else ``None``.
    encryption_header: Mapping[str, Any] | None = None


def encode(
    claims: Mapping[str, Any],
    key: Key,
    *,
    alg: str | None = None,
    typ: str | None = "JWT",
    headers: Mapping[str, Any] | None = None,
    encrypt_to: Key | None = None,
    encryption_alg: str | None = None,
    enc: str = jwe.DEFAULT_ENC,
) -> str:
    """Sign ``claims`` into a compact JWT; the header gets ``alg``, the key's ``kid``, ``typ``.

    :param encrypt_to: the recipient's key: the signed JWT is then encrypted into a compact
        JWE (``cty: JWT``) with ``encryption_alg`` (default: the key's usual one) and ``enc``.
    """
    payload = _encode_claims(claims)
    token = None if headers is not None else _usual.sign(payload, key, alg, typ)
    if token is None:
        header = {"typ": typ} if typ else {}
        if headers:
            header.update(headers)
        token = jws.sign_compact(payload, key, alg=alg, headers=header)
        if headers is None:
            _usual.remember_signed(key, alg, typ, token)
    if encrypt_to is None:
        return token
    return jwe.encrypt_compact(
        token.encode("ascii"), encrypt_to, alg=encryption_alg, enc=enc, headers={"cty": "JWT"}
    )


def _encode_claims(claims: Mapping[str, Any]) -> bytes:
    # A JWT's claims are one JSON object with string names; json.dumps would turn {1: …}
    # into {"1": …} and could write duplicate names that every strict parser rejects.
    if type(claims) is not dict and not isinstance(claims, Mapping):
        raise UsageError("claims must be a mapping with string names")
    try:
        "".join(claims)  # A TypeError unless every name is a str; much faster than a loop.
    except TypeError:
        raise UsageError("claims must be a mapping with string names") from None
    try:
        return _json.encode_text(claims).encode("utf-8")
    except RecursionError:
        raise UsageError("the claims are nested too deeply to encode") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"the claims cannot be encoded as JSON: {exc}") from None


def decode(
    token: str | bytes,
    keys: Key | KeySet,
    *,
    algorithms: Collection[str] | None = None,
    issuer: str | Collection[str] | None = None,
    audience: str | Collection[str] | None = None,
    typ: str | None = None,
    leeway: float = 0,
    require: Iterable[str] = _REQUIRE_EXP,
    now: float | None = None,
    validators: Iterable[Validator] = (),
    max_size: int = MAX_SIZE,
    decrypt_with: Key | KeySet | None = None,
    decryption_algorithms: Collection[str] | None = None,
) -> dict[str, Any]:
    """Verify a JWT and validate its claims; return the claims.

    :param keys: a key, or a key set searched by the token's ``kid``.
    :param algorithms: the allowed ``alg`` values; default: the keys' bound ``alg``.
    :param issuer: the exact ``iss`` required (or a collection of acceptable ones).
    :param audience: this recipient's name(s); the token's ``aud`` must contain one.
    :param typ: the required ``typ`` header (``"application/"`` may be omitted either side).
    :param leeway: seconds of clock skew tolerated for ``exp``, ``nbf`` and ``iat``.
    :param require: claims that must be present (``exp`` by default).
    :param now: the current time in seconds since the epoch; default: the system clock.
    :param decrypt_with: for a nested JWT: the key(s) that decrypt the outer JWE, whose
        ``alg`` must be in ``decryption_algorithms`` (default: the keys' bound ``alg``).
    :raises InvalidTokenError: with a specific subclass for each reason.
    """
    if decrypt_with is not None:
        token = _decrypt_nested(token, decrypt_with, decryption_algorithms, max_size)[0]
    return _decode(
        token, keys, algorithms, issuer, audience, typ, leeway, require, now, validators, max_size
    )[1]


def decode_complete(
    token: str | bytes,
    keys: Key | KeySet,
    *,
    algorithms: Collection[str] | None = None,
    issuer: str | Collection[str] | None = None,
    audience: str | Collection[str] | None = None,
    typ: str | None = None,
    leeway: float = 0,
    require: Iterable[str] = _REQUIRE_EXP,
    now: float | None = None,
    validators: Iterable[Validator] = (),
    max_size: int = MAX_SIZE,
    decrypt_with: Key | KeySet | None = None,
    decryption_algorithms: Collection[str] | None = None,
) -> Token:
    """As :func:`decode`, returning the header and key too."""
    outer = None
    if decrypt_with is not None:
        token, outer = _decrypt_nested(token, decrypt_with, decryption_algorithms, max_size)
    verified = _decode(
        token, keys, algorithms, issuer, audience, typ, leeway, require, now, validators, max_size
    )
    return Token(*verified, outer)


def _decrypt_nested(
    token: str | bytes, keys: Key | KeySet, algorithms: Collection[str] | None, max_size: int
) -> tuple[bytes, Mapping[str, Any]]:
    """The inner JWT of a nested JWT, and the JWE header around it."""
    opened = jwe.decrypt_compact(token, keys, algorithms=algorithms, max_size=2 * max_size)
    cty = opened.header.get("cty")
    # RFC 7519 §5.2: the JWE header of a nested JWT says cty JWT.
    if not isinstance(cty, str) or _media_type(cty) != "jwt":
        raise MalformedTokenError("the JWE does not hold a JWT (its cty is not JWT)")
    return opened.plaintext, opened.header


def _decode(
    token: str | bytes,
    keys: Key | KeySet,
    algorithms: Collection[str] | None,
    issuer: str | Collection[str] | None,
    audience: str | Collection[str] | None,
    typ: str | None,
    leeway: float,
    require: Iterable[str],
    now: float | None,
    validators: Iterable[Validator],
    max_size: int,
) -> tuple[Mapping[str, Any], dict[str, Any], Key]:
    """:func:`decode_complete` without the result object (the verify path builds none)."""
    verified = _usual.verify(token, keys, algorithms, max_size)
    if verified is None:
        general = jws.verify_compact(token, keys, algorithms=algorithms, max_size=max_size)
        if general.header.get("b64", True) is not True:
            raise MalformedTokenError("a JWT cannot have an unencoded payload")
        verified = general.header, general.payload, general.key
    header, payload, key = verified
    if typ is not None:
        _check_type(header, typ)
    claims = _json.loads(payload)
    if type(claims) is not dict:
        raise MalformedTokenError("the JWT claims is not a JSON object")
    _validate(claims, issuer, audience, leeway, require, now)
    for validator in validators:
        validator(claims)
    return header, claims, key


def _media_type(value: str) -> str:
    value = value.lower()
    return value[len("application/") :] if value.startswith("application/") else value


def _check_type(header: Mapping[str, Any], expected: str) -> None:
    """Require the ``typ`` header (RFC 8725 §3.11), compared as RFC 7515 §4.1.9 says."""
    actual = header.get("typ")
    if actual == expected and type(actual) is str:  # The usual case: spelled the same.
        return
    if not isinstance(actual, str) or _media_type(actual) != _media_type(expected):
        raise InvalidTypeError(f"the token's typ is not {expected!r}", claim="typ")


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        if name in claims:
            raise ClaimError(f"claim {name!r} is null", claim=name)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClaimError(f"claim {name!r} is not a NumericDate", claim=name)
    return value


def _iso(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        # A valid NumericDate may lie outside the years 1 to 9999 that datetime can show.
        return "a time out of range"


def validate_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str | Collection[str] | None = None,
    audience: str | Collection[str] | None = None,
    leeway: float = 0,
    require: Iterable[str] = _REQUIRE_EXP,
    now: float | None = None,
) -> None:
    """Validate registered claims; see :func:`decode`."""
    _validate(claims, issuer, audience, leeway, require, now)


def _validate(
    claims: Mapping[str, Any],
    issuer: str | Collection[str] | None,
    audience: str | Collection[str] | None,
    leeway: float,
    require: Iterable[str],
    now: float | None,
) -> None:
    for name in require:
        if name not in claims:
            raise MissingClaimError(f"the token has no {name!r} claim", claim=name)
    current = time.time() if now is None else now
    # An int is the usual NumericDate and needs no further check; anything else (absent,
    # null, float, bool, text) goes through _numeric_date.
    exp = claims.get("exp")
    if type(exp) is not int:
        exp = _numeric_date(claims, "exp")
    # current - leeway, not exp + leeway: an int exp too large for a float cannot overflow.
    if exp is not None and current - leeway >= exp:
        raise ExpiredTokenError(f"the token expired at {_iso(exp)}", claim="exp")
    nbf = claims.get("nbf")
    if type(nbf) is not int:
        nbf = _numeric_date(claims, "nbf")
    if nbf is not None and current + leeway < nbf:
        raise NotYetValidError(f"the token is not valid before {_iso(nbf)}", claim="nbf")
    iat = claims.get("iat")
    if type(iat) is not int:
        iat = _numeric_date(claims, "iat")
    if iat is not None and current + leeway < iat:
        raise NotYetValidError(f"the token was issued in the future ({_iso(iat)})", claim="iat")
    get = claims.get
    if (
        type(get("iss", "")) is not str
        or type(get("sub", "")) is not str
        or type(get("jti", "")) is not str
    ):
        _check_strings(claims)
    if issuer is not None and not (type(issuer) is str and get("iss") == issuer):
        _check_issuer(claims, issuer)  # Rejects, unless issuer is a collection that has iss.
    aud = get("aud")
    if not (type(aud) is str and type(audience) is str and aud == audience):
        _check_audience(claims, audience)  # Rejects, unless a list or collection matches.


def _check_strings(claims: Mapping[str, Any]) -> None:
    for name in ("iss", "sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise ClaimError(f"claim {name!r} is not a string", claim=name)


def _check_issuer(claims: Mapping[str, Any], issuer: str | Collection[str]) -> None:
    iss = claims.get("iss")
    if iss is None:
        raise MissingClaimError("the token has no 'iss' claim", claim="iss")
    if iss != issuer if isinstance(issuer, str) else iss not in issuer:
        raise InvalidIssuerError("the token comes from another issuer", claim="iss")


def _check_audience(claims: Mapping[str, Any], audience: str | Collection[str] | None) -> None:
    aud = claims.get("aud")
    if aud is None:
        if "aud" in claims:
            raise ClaimError("claim 'aud' is null", claim="aud")
        if audience is not None:
            raise MissingClaimError("the token has no 'aud' claim", claim="aud")
        return
    if isinstance(aud, str):
        token_audiences = {aud}
    elif isinstance(aud, list) and aud and all(isinstance(item, str) for item in aud):
        token_audiences = set(aud)
    else:
        raise ClaimError("claim 'aud' is not a string or a list of strings", claim="aud")
    if audience is None:
        # RFC 7519 §4.1.3: a recipient that cannot identify itself with the aud must reject.
        raise InvalidAudienceError("the token names an audience; pass audience=", claim="aud")
    wanted = {audience} if isinstance(audience, str) else set(audience)
    if token_audiences.isdisjoint(wanted):
        raise InvalidAudienceError("the token is for another audience", claim="aud")
