"""ID token validation (OpenID Connect Core §3.1.3.7) on top of :mod:`jot.jose`.

The ``alg`` must be one the provider's discovery lists *and* one jot accepts (never
``none``, never HMAC); the signature is checked against the provider's JWKS selected by
``kid``; then ``iss`` exactly, ``aud`` containing our client id, ``azp`` when there are several
audiences, ``exp`` and ``iat`` with a small leeway, and the ``nonce`` of this login attempt.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from jot.authority.oidc.errors import LoginRefused
from jot.jose import KeySet, jwt
from jot.jose.errors import (
    ExpiredTokenError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidTokenError,
    KeyNotFoundError,
    MalformedTokenError,
    NotYetValidError,
)
from jot.jose.hazmat import decode_unverified

__all__ = ["LEEWAY", "MAX_AGE", "verify_id_token"]

#: Seconds of clock difference tolerated between jot and the provider.
LEEWAY = 60
#: The oldest ``iat`` accepted at login: the lifetime of a login attempt.
MAX_AGE = 600

_REASONS: list[tuple[type[InvalidTokenError], str, str]] = [
    (ExpiredTokenError, "expired", "the provider's ID token has expired"),
    (InvalidIssuerError, "wrong_issuer", "the ID token was issued by another issuer"),
    (InvalidAudienceError, "wrong_audience", "the ID token is meant for another client"),
    (NotYetValidError, "not_yet_valid", "the ID token is dated in the future"),
    (
        KeyNotFoundError,
        "unknown_key",
        "the ID token is signed with a key the provider does not publish",
    ),
    (MalformedTokenError, "malformed", "the provider's ID token is malformed"),
]


def _refuse(exc: InvalidTokenError) -> LoginRefused:
    for kind, reason, message in _REASONS:
        if isinstance(exc, kind):
            return LoginRefused(reason, message)
    return LoginRefused("bad_id_token", f"the provider's ID token is not valid ({exc.error})")


def _check_alg(token: str, algorithms: tuple[str, ...]) -> None:
    try:
        header = decode_unverified(token).header
    except InvalidTokenError:
        raise LoginRefused("malformed", "the provider's ID token is malformed") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise LoginRefused("alg_none", "the ID token is unsigned (alg none); refused")
    if alg not in algorithms:
        raise LoginRefused(
            "alg_not_listed",
            f"the ID token is signed with {alg[:20]!r}, which the provider does not list",
        )


def _check_azp(claims: dict[str, Any], client_id: str) -> None:
    aud = claims.get("aud")
    azp = claims.get("azp")
    several = isinstance(aud, list) and len(aud) > 1
    if (several or azp is not None) and azp != client_id:
        raise LoginRefused("wrong_azp", "the ID token was issued to another client (azp)")


def _check_nonce(claims: dict[str, Any], nonce: str | None) -> None:
    if nonce is None:
        return
    got = claims.get("nonce")
    if not isinstance(got, str):
        raise LoginRefused("missing_nonce", "the ID token carries no nonce; refused")
    if not hmac.compare_digest(got.encode(), nonce.encode()):
        raise LoginRefused("bad_nonce", "the ID token's nonce is not this login's (a replay?)")


def verify_id_token(
    token: str,
    *,
    keys: Callable[[bool], KeySet],
    algorithms: tuple[str, ...],
    issuer: str,
    client_id: str,
    nonce: str | None,
    now: float,
) -> dict[str, Any]:
    """The verified claims, or :class:`LoginRefused` with the reason.

    :param keys: ``keys(unknown_kid)`` returns the provider's JWKS; called again with ``True``
        (a rate-limited refetch) when the token's ``kid`` is not in the cached set.
    :param nonce: the nonce sent in this attempt; ``None`` on refresh, where none is sent.
    """
    _check_alg(token, algorithms)
    options: dict[str, Any] = {
        "algorithms": algorithms,
        "issuer": issuer,
        "audience": client_id,
        "leeway": LEEWAY,
        "require": ("iss", "sub", "aud", "exp", "iat"),
        "now": now,
    }
    try:
        try:
            claims = jwt.decode(token, keys(False), **options)
        except KeyNotFoundError:
            # The provider may have rotated its keys since we cached them.
            claims = jwt.decode(token, keys(True), **options)
    except InvalidTokenError as exc:
        raise _refuse(exc) from None
    _check_azp(claims, client_id)
    _check_nonce(claims, nonce)
    if nonce is not None and now - float(claims["iat"]) > MAX_AGE + LEEWAY:
        # At login the token must be fresh: it was minted for an attempt at most this old.
        raise LoginRefused("stale", "the ID token was issued too long ago; start the login again")
    return claims
