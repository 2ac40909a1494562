"""What a JWS protected header may say (RFC 7515 §4, RFC 7797 §6), and the key it selects.

The rules of :mod:`jot.jose.jws`, for the compact and the JSON serializations alike: ``crit``
and ``b64`` checked, the algorithm from the caller's allow-list, the key by ``kid`` from the
caller's keys (never from the token).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from jot.jose.errors import (
    InvalidKeyError,
    KeyNotFoundError,
    MalformedTokenError,
    UnsupportedAlgorithmError,
    UnsupportedHeaderError,
    UsageError,
)
from jot.jose.jwa import SIGNATURE_ALGORITHMS, SignatureAlgorithm
from jot.jose.jwk import Key, KeySet

__all__ = ["check_crit", "check_structure", "select"]

# RFC 7515 §4.1.11: `crit` must not list header parameters that the specs define.
_REGISTERED = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc",
     "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c"}
)  # fmt: skip
# Extensions that jws itself understands when they appear in `crit`.
_UNDERSTOOD = frozenset({"b64"})


def check_structure(header: Mapping[str, Any], protected: Mapping[str, Any]) -> bool:
    """Check the parameters whose form RFC 7515/7797 fix; return the ``b64`` value."""
    crit = protected.get("crit")
    if crit is not None:
        if (
            not isinstance(crit, list)
            or not crit
            or not all(isinstance(name, str) and name for name in crit)
            or len(set(crit)) != len(crit)
        ):
            raise MalformedTokenError("'crit' must be a non-empty list of unique names")
        if _REGISTERED.intersection(crit):
            raise MalformedTokenError("'crit' lists a header parameter defined by the specs")
        if not all(name in header for name in crit):
            raise MalformedTokenError("'crit' lists a header parameter that is absent")
    b64 = header.get("b64", True)
    if not isinstance(b64, bool):
        raise MalformedTokenError("'b64' must be true or false")
    if "b64" in header and (crit is None or "b64" not in crit):
        # RFC 7797 §6: b64 must be understood, so it must be listed in crit.
        raise UnsupportedHeaderError("'b64' is used without being listed in 'crit'")
    # "kid": null is not an absent kid: it would make a key set fall back to any single key.
    if "kid" in header and not isinstance(header["kid"], str):
        raise MalformedTokenError("'kid' must be a string")
    return b64


def check_crit(header: Mapping[str, Any], understood: Collection[str]) -> None:
    crit = header.get("crit")
    if crit is not None:
        for name in crit:
            if name not in _UNDERSTOOD and name not in understood:
                raise UnsupportedHeaderError(f"critical header parameter {name!r} not understood")


def _fits(algorithm: SignatureAlgorithm, key: Key) -> bool:
    """Whether a key could verify this algorithm (a key too weak still fits, then fails)."""
    if not key.allows("verify"):
        return False
    try:
        algorithm.check_key(key)
    except UsageError:  # Another family or curve.
        return False
    except InvalidKeyError:
        return True
    return True


def select(
    keys: Key | KeySet, header: Mapping[str, Any], allowed: frozenset[str]
) -> tuple[SignatureAlgorithm, Key]:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedTokenError("the header has no 'alg'")
    if alg not in allowed:
        raise UnsupportedAlgorithmError(f"algorithm {alg[:20]!r} is not allowed")
    algorithm = SIGNATURE_ALGORITHMS[alg]
    if isinstance(keys, Key):
        return algorithm, keys
    kid = header.get("kid")
    if kid is not None:
        key = keys.get(kid)  # A kid that keys share selects none (see KeySet).
    else:
        candidates = [k for k in keys if k.alg in (None, alg) and _fits(algorithm, k)]
        if len(candidates) != 1:
            raise KeyNotFoundError("the token has no 'kid' and no single key fits")
        key = candidates[0]
    if key.alg is not None and key.alg != alg:
        raise KeyNotFoundError(f"the key for this kid is bound to {key.alg}, not {alg}")
    if not key.allows("verify"):
        raise KeyNotFoundError("the key for this kid is not for verifying signatures")
    try:
        algorithm.check_key(key)
    except UsageError:
        raise KeyNotFoundError(f"the key for this kid does not fit {alg}") from None
    return algorithm, key
