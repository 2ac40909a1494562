"""The provider's only contact with :mod:`jot.jose` beyond signing (which is
:mod:`jot.authority.signing`'s): client key sets, client assertions, access tokens.

Every function raises :class:`VerifyError` (one line, safe to log) instead of jose errors, so
the endpoints never handle a library's exception types.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from jot.api import TOKEN_TYPE
from jot.jose import KeySet, jwk, jwt
from jot.jose.errors import JoseError
from jot.jose.hazmat import decode_unverified

__all__ = [
    "VerifyError",
    "access_token",
    "assertion",
    "client_jwks",
    "key_ids",
    "unverified_claim",
]


class VerifyError(Exception):
    """What was wrong, as the library's error code or a short phrase."""


def client_jwks(jwks: dict[str, Any]) -> str:
    """A client's registered JWKS, checked (public keys only, none refused) and stored as
    JSON with a kid on every key (its RFC 7638 thumbprint when it had none), so that an
    assertion names the key it was signed with."""
    try:
        keys = KeySet.from_dict(jwks)
    except JoseError as exc:
        raise VerifyError(exc.description) from None
    if keys.rejected or not keys.keys:
        raise VerifyError(keys.rejected[0][1] if keys.rejected else "no keys")
    if any(key.kty == "oct" or key.is_private for key in keys.keys):
        raise VerifyError("public keys only (no secrets, no private parts)")
    named = [key if key.kid else jwk.import_key(key, kid=key.thumbprint()) for key in keys.keys]
    return json.dumps(KeySet(named).to_dict())


def key_ids(stored: str) -> list[str]:
    return [key.kid for key in KeySet.from_json(stored).keys if key.kid]


def unverified_claim(token: str, name: str) -> str | None:
    """One string claim read WITHOUT verification: only to choose which keys verify it."""
    try:
        payload = decode_unverified(token).payload
    except JoseError:
        return None
    value = payload.get(name) if isinstance(payload, dict) else None
    return value if isinstance(value, str) else None


def assertion(
    token: str,
    stored_jwks: str,
    *,
    algorithms: Collection[str],
    client_id: str,
    audiences: Collection[str],
    now: float,
) -> dict[str, Any]:
    """RFC 7523 §3: a client assertion signed by a registered key, ``iss`` the client."""
    try:
        return jwt.decode(
            token, KeySet.from_json(stored_jwks), algorithms=algorithms, issuer=client_id,
            audience=audiences, leeway=30, require=("exp", "sub", "jti"), now=now,
        )  # fmt: skip
    except JoseError as exc:
        raise VerifyError(exc.error) from None


def access_token(
    token: str, jwks: dict[str, Any], *, issuer: str, audience: str, leeway: float, now: float
) -> dict[str, Any]:
    """A jot this authority issued for ``audience``, checked as a destination checks it."""
    try:
        return jwt.decode(
            token, KeySet.from_dict(jwks), issuer=issuer, audience=audience, typ=TOKEN_TYPE,
            require=("exp", "sub", "jti"), leeway=leeway, now=now,
        )  # fmt: skip
    except JoseError as exc:
        raise VerifyError(exc.error) from None
