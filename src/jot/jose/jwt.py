"""JSON Web Tokens (RFC 7519) with the RFC 8725 best practices.

:func:`decode` verifies the signature *and* validates the claims: ``exp`` (required by
default), ``nbf`` and ``iat`` with a leeway, an exact ``iss``, the ``aud`` (a token that names
an audience is refused unless the caller says which audience it is), required claims, the
``typ`` header and custom validators. Comparisons are type-strict: ``"1" != 1``, ``True`` is
not a number. The clock is a parameter (``now=``), so tests never sleep.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jot.jose import _json, jws
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

__all__ = ["MAX_SIZE", "Token", "Validator", "decode", "decode_complete", "encode"]

#: Default limit on a token's size, checked before anything is split or decoded.
MAX_SIZE = 64 * 1024

#: A custom check: it receives the claims and raises :class:`ClaimError` to reject them.
Validator = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Token:
    """A verified token: its header, its validated claims and the key that verified it."""

    header: Mapping[str, Any]
    claims: dict[str, Any]
    key: Key


def encode(
    claims: Mapping[str, Any],
    key: Key,
    *,
    alg: str | None = None,
    typ: str | None = "JWT",
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``claims`` into a compact JWT; the header gets ``alg``, the key's ``kid``, ``typ``."""
    header = {"typ": typ} if typ else {}
    if headers:
        header.update(headers)
    return jws.sign_compact(_encode_claims(claims), key, alg=alg, headers=header)


def _encode_claims(claims: Mapping[str, Any]) -> bytes:
    # A JWT's claims are one JSON object with string names; json.dumps would turn {1: …}
    # into {"1": …} and could write duplicate names that every strict parser rejects.
    if not isinstance(claims, Mapping) or not all(isinstance(name, str) for name in claims):
        raise UsageError("claims must be a mapping with string names")
    try:
        return _json.dumps(claims)
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
    require: Iterable[str] = ("exp",),
    now: float | None = None,
    validators: Iterable[Validator] = (),
    max_size: int = MAX_SIZE,
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
    :raises InvalidTokenError: with a specific subclass for each reason.
    """
    return decode_complete(
        token,
        keys,
        algorithms=algorithms,
        issuer=issuer,
        audience=audience,
        typ=typ,
        leeway=leeway,
        require=require,
        now=now,
        validators=validators,
        max_size=max_size,
    ).claims


def decode_complete(
    token: str | bytes,
    keys: Key | KeySet,
    *,
    algorithms: Collection[str] | None = None,
    issuer: str | Collection[str] | None = None,
    audience: str | Collection[str] | None = None,
    typ: str | None = None,
    leeway: float = 0,
    require: Iterable[str] = ("exp",),
    now: float | None = None,
    validators: Iterable[Validator] = (),
    max_size: int = MAX_SIZE,
) -> Token:
    """As :func:`decode`, returning the header and key too."""
    verified = jws.verify_compact(token, keys, algorithms=algorithms, max_size=max_size)
    header = verified.header
    if header.get("b64", True) is not True:
        raise MalformedTokenError("a JWT cannot have an unencoded payload")
    if typ is not None:
        check_type(header, typ)
    claims = _json.loads_object(verified.payload, "the JWT claims")
    validate_claims(
        claims,
        issuer=issuer,
        audience=audience,
        leeway=leeway,
        require=require,
        now=now,
    )
    for validator in validators:
        validator(claims)
    return Token(header, claims, verified.key)


def _media_type(value: str) -> str:
    value = value.lower()
    return value[len("application/") :] if value.startswith("application/") else value


def check_type(header: Mapping[str, Any], expected: str) -> None:
    """Require the ``typ`` header (RFC 8725 §3.11), compared as RFC 7515 §4.1.9 says."""
    actual = header.get("typ")
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
    require: Iterable[str] = ("exp",),
    now: float | None = None,
) -> None:
    """Validate registered claims; see :func:`decode`."""
    for name in require:
        if name not in claims:
            raise MissingClaimError(f"the token has no {name!r} claim", claim=name)
    current = time.time() if now is None else now
    exp = _numeric_date(claims, "exp")
    if exp is not None and current >= exp + leeway:
        raise ExpiredTokenError(f"the token expired at {_iso(exp)}", claim="exp")
    nbf = _numeric_date(claims, "nbf")
    if nbf is not None and current + leeway < nbf:
        raise NotYetValidError(f"the token is not valid before {_iso(nbf)}", claim="nbf")
    iat = _numeric_date(claims, "iat")
    if iat is not None and current + leeway < iat:
        raise NotYetValidError(f"the token was issued in the future ({_iso(iat)})", claim="iat")
    for name in ("iss", "sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise ClaimError(f"claim {name!r} is not a string", claim=name)
    if issuer is not None:
        _check_issuer(claims, issuer)
    _check_audience(claims, audience)


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
