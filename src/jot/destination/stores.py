"""Deny-list and replay stores: in memory (one process) or Redis (shared by replicas).

A deny-list answers "is this token id or this subject revoked?"; a replay store answers "is
this the first use of this token id?" (for one-time tokens). Entries carry an expiry so that
stores do not grow without bound: a token id needs remembering only until its token expires.
Sync stores serve :class:`~jot.destination.verifier.Verifier`; the ``Async*`` ones serve
:class:`~jot.destination.verifier.AsyncVerifier`, which also accepts the sync in-memory store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from jot.destination.errors import UnavailableError

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = [
    "AsyncDenyList",
    "AsyncRedisStore",
    "AsyncReplayStore",
    "DenyList",
    "MemoryStore",
    "RedisStore",
    "ReplayStore",
]

_FOREVER = float("inf")


class DenyList(Protocol):
    def is_denied(self, token_id: str, subject: str) -> bool: ...


class ReplayStore(Protocol):
    def first_use(self, token_id: str, expires: float) -> bool: ...


class AsyncDenyList(Protocol):
    async def is_denied(self, token_id: str, subject: str) -> bool: ...


class AsyncReplayStore(Protocol):
    async def first_use(self, token_id: str, expires: float) -> bool: ...


class MemoryStore:
    """Deny-list and replay store in one process's memory."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_entries: int = 100_000):
        self._clock = clock
        self._max = max_entries
        self._denied: dict[str, float] = {}
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def deny_token(self, token_id: str, until: float | None = None) -> None:
        with self._lock:
            self._denied["jti:" + token_id] = _FOREVER if until is None else until

    def deny_subject(self, subject: str, until: float | None = None) -> None:
        with self._lock:
            self._denied["sub:" + subject] = _FOREVER if until is None else until

    def is_denied(self, token_id: str, subject: str) -> bool:
        now = self._clock()
        with self._lock:
            return any(
                self._denied.get(key, 0.0) > now for key in ("jti:" + token_id, "sub:" + subject)
            )

    def first_use(self, token_id: str, expires: float) -> bool:
        now = self._clock()
        with self._lock:
            if self._seen.get(token_id, 0.0) > now:
                return False
            if len(self._seen) >= self._max:
                self._purge(now)
            self._seen[token_id] = expires
            return True

    def _purge(self, now: float) -> None:
        self._seen = {k: v for k, v in self._seen.items() if v > now}
        if len(self._seen) >= self._max:
            # Full of live entries: refusing new ones (fail closed) beats forgetting old ones.
            raise UnavailableError("replay store is full")


def _ttl_ms(expires: float, now: float) -> int:
    return max(1, int((expires - now) * 1000) + 1)


class RedisStore:
    """Deny-list and replay store in Redis, shared by every replica of a destination."""

    def __init__(
        self,
        client: redis.Redis[Any],
        *,
        prefix: str = "jot:dest:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._clock = clock

    def deny_token(self, token_id: str, until: float | None = None) -> None:
        self._set(self._prefix + "deny:jti:" + token_id, until)

    def deny_subject(self, subject: str, until: float | None = None) -> None:
        self._set(self._prefix + "deny:sub:" + subject, until)

    def _set(self, key: str, until: float | None) -> None:
        if until is None:
            self._redis.set(key, b"1")
        else:
            self._redis.set(key, b"1", px=_ttl_ms(until, self._clock()))

    def is_denied(self, token_id: str, subject: str) -> bool:
        keys = (self._prefix + "deny:jti:" + token_id, self._prefix + "deny:sub:" + subject)
        return int(self._redis.exists(*keys)) > 0

    def first_use(self, token_id: str, expires: float) -> bool:
        # SET NX is atomic: of two replicas seeing the same token at once, exactly one wins.
        key = self._prefix + "seen:" + token_id
        return bool(self._redis.set(key, b"1", nx=True, px=_ttl_ms(expires, self._clock())))


class AsyncRedisStore:
    """:class:`RedisStore` over ``redis.asyncio``."""

    def __init__(
        self,
        client: redis.asyncio.Redis[Any],
        *,
        prefix: str = "jot:dest:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._clock = clock

    async def deny_token(self, token_id: str, until: float | None = None) -> None:
        await self._set(self._prefix + "deny:jti:" + token_id, until)

    async def deny_subject(self, subject: str, until: float | None = None) -> None:
        await self._set(self._prefix + "deny:sub:" + subject, until)

    async def _set(self, key: str, until: float | None) -> None:
        if until is None:
            await self._redis.set(key, b"1")
        else:
            await self._redis.set(key, b"1", px=_ttl_ms(until, self._clock()))

    async def is_denied(self, token_id: str, subject: str) -> bool:
        keys = (self._prefix + "deny:jti:" + token_id, self._prefix + "deny:sub:" + subject)
        return int(await self._redis.exists(*keys)) > 0

    async def first_use(self, token_id: str, expires: float) -> bool:
        key = self._prefix + "seen:" + token_id
        return bool(await self._redis.set(key, b"1", nx=True, px=_ttl_ms(expires, self._clock())))
