"""The JWKS cache: keys of the authority, selected by ``kid``, refreshed safely.

The decisions live in :class:`JWKSState` (no I/O): when to fetch, how long a key set is good
for (``Cache-Control: max-age`` clamped to bounds), and the rate limit that stops a flood of
tokens with made-up ``kid`` values from turning into a flood of fetches. :class:`JWKSClient`
and :class:`AsyncJWKSClient` run the fetches; :class:`StaticJWKS` serves a fixed key set.
The last good key set is kept when the authority is unreachable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from jot.destination._http import Flow, check_url, drive, drive_async
from jot.destination.errors import UnavailableError
from jot.jose import Key, KeySet
from jot.jose.errors import JoseError

__all__ = [
    "AsyncJWKSClient",
    "JWKSClient",
    "JWKSPolicy",
    "JWKSState",
    "StaticJWKS",
    "discovery_url",
    "key_name",
    "parse_max_age",
]

log = logging.getLogger("jot.destination")

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)
_NO_STORE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class JWKSPolicy:
    """Bounds of the cache. Times in seconds.

    ``min_interval`` is the least time between two fetches that were not due by TTL (an
    unknown ``kid``, or a retry after the authority failed); it is what bounds a bogus-``kid``
    flood to one fetch per interval.
    """

    default_ttl: float = 300.0
    min_ttl: float = 30.0
    max_ttl: float = 3600.0
    min_interval: float = 10.0
    max_bytes: int = 256 * 1024
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_ttl <= self.default_ttl <= self.max_ttl:
            raise ValueError("JWKS policy needs 0 <= min_ttl <= default_ttl <= max_ttl")
        if self.min_interval < 0 or self.max_bytes <= 0 or self.timeout <= 0:
            raise ValueError("JWKS policy: min_interval, max_bytes and timeout must be positive")


def parse_max_age(cache_control: str | None) -> int | None:
    """``max-age`` from a ``Cache-Control`` value; 0 for ``no-store``/``no-cache``."""
    if not cache_control:
        return None
    if _NO_STORE.search(cache_control):
        return 0
    match = _MAX_AGE.search(cache_control)
    return int(match.group(1)) if match else None


def discovery_url(issuer: str) -> str:
    """OpenID Connect Discovery 1.0 §4: the issuer plus ``/.well-known/openid-configuration``."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise UnavailableError(f"{what}: HTTP {response.status_code}")
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise UnavailableError(f"{what}: not JSON") from exc
    if not isinstance(body, dict):
        raise UnavailableError(f"{what}: not a JSON object")
    return body


def key_name(key: Key) -> str:
    """What the verification cache remembers a key by: its ``kid``, or for a key without one
    its RFC 9278 thumbprint URI (so that tokens it verified are cached like any others)."""
    return key.kid if key.kid is not None else key.thumbprint_uri()


def _names(keys: KeySet) -> frozenset[str]:
    return frozenset(key_name(key) for key in keys)


class JWKSState:
    """What the cache knows, and the rules for when to fetch. No I/O."""

    def __init__(
        self, *, issuer: str | None = None, jwks_uri: str | None = None, policy: JWKSPolicy
    ) -> None:
        if (issuer is None) == (jwks_uri is None):
            raise ValueError("give exactly one of issuer and jwks_uri")
        self.issuer = check_url(issuer, "issuer") if issuer else None
        self.jwks_uri = check_url(jwks_uri, "jwks_uri") if jwks_uri else None
        self.policy = policy
        self.keys: KeySet | None = None
        self.kids: frozenset[str] = frozenset()
        #: Every key's :func:`key_name`: cached tokens stay good while theirs is here.
        self.names: frozenset[str] = frozenset()
        self.expires_at = 0.0
        self.last_attempt: float | None = None
        self.fetches = 0

    def due(self, kid: str | None, now: float) -> bool:
        """Whether a request for ``kid`` should trigger a fetch now."""
        stale = self.keys is None or now >= self.expires_at
        if not stale and (kid is None or kid in self.kids):
            return False
        if self.last_attempt is None:
            return True
        # A stale set is refetched on schedule; anything else waits out the rate limit.
        if not stale or self.keys is None:
            return now - self.last_attempt >= self.policy.min_interval
        return now - self.last_attempt >= min(self.policy.min_interval, self.policy.min_ttl)

    def knows(self, kid: str | None) -> bool:
        """Whether the current (maybe stale) set can serve ``kid``."""
        return self.keys is not None and (kid is None or kid in self.kids)

    def fetch_flow(self, now: float) -> Flow[None]:
        """Discovery (once) then the JWKS itself; updates the state."""
        self.last_attempt = now
        self.fetches += 1
        jwks_uri = self.jwks_uri
        if jwks_uri is None:
            # __init__ guarantees an issuer whenever there is no jwks_uri.
            issuer = self.issuer or ""
            response = yield httpx.Request("GET", discovery_url(issuer))
            jwks_uri = self._accept_discovery(_json_object(response, "discovery"))
        response = yield httpx.Request("GET", jwks_uri)
        self.accept(response, now)

    def _accept_discovery(self, config: dict[str, Any]) -> str:
        # OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the one we asked.
        named = config.get("issuer", self.issuer)
        if not isinstance(named, str) or named.rstrip("/") != (self.issuer or "").rstrip("/"):
            raise UnavailableError("discovery: the document names another issuer")
        uri = config.get("jwks_uri")
        if not isinstance(uri, str):
            raise UnavailableError("discovery: no jwks_uri")
        try:
            self.jwks_uri = check_url(uri, "jwks_uri")
        except ValueError as exc:
            raise UnavailableError(str(exc)) from exc
        return self.jwks_uri

    def accept(self, response: httpx.Response, now: float) -> None:
        """Take a JWKS response; raises :class:`UnavailableError` and keeps the old set if bad."""
        body = _json_object(response, "JWKS")
        try:
            keys = KeySet.from_dict(body)
        except (JoseError, ValueError, TypeError) as exc:
            raise UnavailableError("JWKS: not a usable key set") from exc
        max_age = parse_max_age(response.headers.get("cache-control"))
        ttl = self.policy.default_ttl if max_age is None else float(max_age)
        ttl = min(max(ttl, self.policy.min_ttl), self.policy.max_ttl)
        self.keys = keys
        self.kids = frozenset(k.kid for k in keys if k.kid)
        self.names = _names(keys)
        self.expires_at = now + ttl


class StaticJWKS:
    """A fixed key set, for destinations configured without an authority."""

    def __init__(self, keys: KeySet | dict[str, Any]) -> None:
        self._keys = keys if isinstance(keys, KeySet) else KeySet.from_dict(keys)
        self.kids = frozenset(k.kid for k in self._keys if k.kid)
        #: None: the set never changes, so no cached token outlives its key.
        self.names: frozenset[str] | None = None

    def get(self, kid: str | None) -> KeySet:
        return self._keys

    async def aget(self, kid: str | None) -> KeySet:
        return self._keys


class JWKSClient:
    """Thread-safe JWKS cache over a sync :class:`httpx.Client`."""

    def __init__(
        self,
        *,
        issuer: str | None = None,
        jwks_uri: str | None = None,
        policy: JWKSPolicy | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = JWKSState(issuer=issuer, jwks_uri=jwks_uri, policy=policy or JWKSPolicy())
        self._http = http or httpx.Client(timeout=self.state.policy.timeout)
        self._owns_http = http is None
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def kids(self) -> frozenset[str]:
        return self.state.kids

    @property
    def names(self) -> frozenset[str]:
        return self.state.names

    def get(self, kid: str | None) -> KeySet:
        """The current key set, fetched first when due. Raises :class:`UnavailableError`."""
        # One fetch at a time. The others wait for its result, unless the key they need is in
        # the (stale) set already: then they go on with it rather than queue behind a slow
        # authority. A request the current set cannot serve takes the lock even when no fetch
        # is due (the rate limit counts a fetch from its start): a fetch in flight, such as the
        # first one at a cold start, may bring its key.
        knows = self.state.knows(kid)
        due = self.state.due(kid, self._clock())
        if (due or not knows) and self._lock.acquire(blocking=not knows):
            try:
                self._fetch(kid)
            finally:
                self._lock.release()
        if self.state.keys is None:
            raise UnavailableError("no keys from the authority yet")
        return self.state.keys

    def _fetch(self, kid: str | None) -> None:
        now = self._clock()
        if self.state.due(kid, now):
            try:
                drive(self._http, self.state.fetch_flow(now), self.state.policy.max_bytes)
            except (httpx.HTTPError, UnavailableError) as exc:
                # Keep the last good set; the rate limit spaces the retries.
                log.warning("JWKS fetch failed: %s", exc)

    def close(self) -> None:
        """Close the HTTP client this object made (a caller's client stays open)."""
        if self._owns_http:
            self._http.close()


class AsyncJWKSClient:
    """The same cache over an :class:`httpx.AsyncClient`, for one event loop."""

    def __init__(
        self,
        *,
        issuer: str | None = None,
        jwks_uri: str | None = None,
        policy: JWKSPolicy | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = JWKSState(issuer=issuer, jwks_uri=jwks_uri, policy=policy or JWKSPolicy())
        self._http = http or httpx.AsyncClient(timeout=self.state.policy.timeout)
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def kids(self) -> frozenset[str]:
        return self.state.kids

    @property
    def names(self) -> frozenset[str]:
        return self.state.names

    async def aget(self, kid: str | None) -> KeySet:
        # As JWKSClient.get: wait for a fetch in flight unless the current set serves the kid.
        knows = self.state.knows(kid)
        if (not knows or self.state.due(kid, self._clock())) and not (
            self._lock.locked() and knows
        ):
            async with self._lock:
                now = self._clock()
                if self.state.due(kid, now):
                    try:
                        flow = self.state.fetch_flow(now)
                        await drive_async(self._http, flow, self.state.policy.max_bytes)
                    except (httpx.HTTPError, UnavailableError) as exc:
                        log.warning("JWKS fetch failed: %s", exc)
        if self.state.keys is None:
            raise UnavailableError("no keys from the authority yet")
        return self.state.keys

    async def aclose(self) -> None:
        await self._http.aclose()
