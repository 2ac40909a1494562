"""Provider metadata (OpenID Connect Discovery 1.0) and its JWKS, fetched and cached.

The metadata's ``issuer`` must equal the configured issuer exactly (Discovery §4.3). Keys are
cached and refetched on an unknown ``kid`` at most every :data:`JWKS_MIN_REFETCH` seconds, so
a token with made-up ``kid`` values cannot make jot hammer the provider.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

from jot.authority.oidc.errors import ProviderUnavailable
from jot.authority.oidc.http import request_json, secure_url
from jot.jose import KeySet
from jot.jose.errors import InvalidKeyError

__all__ = [
    "ACCEPTED_ALGORITHMS",
    "JWKS_MIN_REFETCH",
    "JWKS_TTL",
    "METADATA_TTL",
    "Metadata",
    "clear_cache",
    "jwks",
    "metadata",
]

METADATA_TTL = 3600.0
JWKS_TTL = 300.0
JWKS_MIN_REFETCH = 10.0

#: Asymmetric signature algorithms only: ``none`` never, and HMAC would make the client
#: secret a verification key, which jot does not do.
ACCEPTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    #: The discovery's ``id_token_signing_alg_values_supported`` that jot accepts.
    algorithms: tuple[str, ...]


_lock = threading.Lock()
_metadata: dict[str, tuple[float, Metadata]] = {}
_jwks: dict[str, tuple[float, KeySet]] = {}


def clear_cache() -> None:
    with _lock:
        _metadata.clear()
        _jwks.clear()


def _url(body: dict[str, object], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not secure_url(value):
        raise ProviderUnavailable(f"the provider's discovery document has no valid {name}")
    return value


def _parse(issuer: str, body: dict[str, object]) -> Metadata:
    if body.get("issuer") != issuer:
        raise ProviderUnavailable(
            f"the provider's discovery document names issuer {str(body.get('issuer'))[:200]!r}, "
            f"not {issuer!r}"
        )
    listed = body.get("id_token_signing_alg_values_supported")
    if not isinstance(listed, list) or not all(isinstance(a, str) for a in listed):
        raise ProviderUnavailable("the provider's discovery document lists no signing algorithms")
    algorithms = tuple(a for a in listed if a in ACCEPTED_ALGORITHMS)
    if not algorithms:
        raise ProviderUnavailable("the provider signs ID tokens with no algorithm jot accepts")
    return Metadata(
        issuer=issuer,
        authorization_endpoint=str(_url(body, "authorization_endpoint")),
        token_endpoint=str(_url(body, "token_endpoint")),
        jwks_uri=str(_url(body, "jwks_uri")),
        userinfo_endpoint=_url(body, "userinfo_endpoint", required=False),
        algorithms=algorithms,
    )


def metadata(http: httpx.Client, issuer: str, *, refresh: bool = False) -> Metadata:
    """The provider's metadata, from the cache when fresh."""
    now = time.monotonic()
    with _lock:
        cached = _metadata.get(issuer)
    if cached is not None and not refresh and now - cached[0] < METADATA_TTL:
        return cached[1]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    status, body = request_json(http, "GET", url, what="discovery document")
    if status != 200:
        raise ProviderUnavailable(f"the provider's discovery document answered HTTP {status}")
    parsed = _parse(issuer, body)
    with _lock:
        _metadata[issuer] = (now, parsed)
    return parsed


def jwks(http: httpx.Client, meta: Metadata, *, unknown_kid: bool = False) -> KeySet:
    """The provider's keys; ``unknown_kid=True`` refetches unless that happened just now."""
    now = time.monotonic()
    with _lock:
        cached = _jwks.get(meta.jwks_uri)
    if cached is not None:
        age = now - cached[0]
        if age < JWKS_TTL and not (unknown_kid and age >= JWKS_MIN_REFETCH):
            return cached[1]
    status, body = request_json(http, "GET", meta.jwks_uri, what="key set")
    if status != 200:
        raise ProviderUnavailable(f"the provider's key set answered HTTP {status}")
    try:
        keys = KeySet.from_dict(body)
    except InvalidKeyError as exc:
        raise ProviderUnavailable(
            f"the provider's key set is not usable: {exc.description}"
        ) from None
    with _lock:
        _jwks[meta.jwks_uri] = (now, keys)
    return keys
