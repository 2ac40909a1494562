"""Counters with a growing back-off, in process or shared through Redis.

A *store* (:class:`MemoryLimiter`, :class:`RedisLimiter`, or :class:`FallbackLimiter`, which
is Redis with the in-process store behind it) counts events per key: after
``max_failures`` of them inside ``window`` seconds the key is locked for
``base * 2**(count - max_failures)`` seconds, capped at ``cap``. Which keys an event feeds and
which locks refuse what is decided in one place, :mod:`jot.authority.limits`.

Redis is an optimisation (replicas count together), never a dependency: every Redis call has
a short timeout, and when Redis fails or hangs the in-process counters answer instead (they
are always fed too), with one warning per interval in the log.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

__all__ = ["FallbackLimiter", "Limiter", "LimiterPolicy", "MemoryLimiter", "RedisLimiter"]

log = logging.getLogger("jot.authority")

T = TypeVar("T")


@dataclass(frozen=True)
class LimiterPolicy:
    max_failures: int = 5
    window: float = 900.0
    base: float = 1.0
    cap: float = 900.0

    def lockout(self, failures: int) -> float:
        """Seconds to lock after ``failures`` failures (0 below the threshold)."""
        if failures < self.max_failures:
            return 0.0
        return min(self.cap, self.base * math.pow(2, min(failures - self.max_failures, 30)))


class Limiter(Protocol):
    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""

    def count(self, key: str, policy: LimiterPolicy) -> float:
        """One more event (a failure, an anonymous start) against ``key``; the seconds it
        locked ``key`` for (0: not locked)."""

    def lock(self, key: str, seconds: float) -> None:
        """Lock ``key`` for ``seconds`` (a lock restored from the database)."""

    def clear(self, key: str) -> None: ...


class MemoryLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (events, first event time, locked until, window + cap of its policy)
        self._state: dict[str, tuple[int, float, float, float]] = {}

    def retry_after(self, key: str) -> float:
        with self._lock:
            entry = self._state.get(key)
            return max(0.0, entry[2] - self._clock()) if entry else 0.0

    def count(self, key: str, policy: LimiterPolicy) -> float:
        now = self._clock()
        with self._lock:
            events, first, _, _ = self._state.get(key, (0, now, 0.0, 0.0))
            if now - first > policy.window:
                events, first = 0, now
            events += 1
            horizon = policy.window + policy.cap
            locked = policy.lockout(events)
            self._state[key] = (events, first, now + locked, horizon)
            if len(self._state) > 100_000:
                self._prune(now)
        return locked

    def lock(self, key: str, seconds: float) -> None:
        now = self._clock()
        with self._lock:
            events, first, until, horizon = self._state.get(key, (0, now, 0.0, 0.0))
            self._state[key] = (events, first, max(until, now + seconds), max(horizon, seconds))

    def clear(self, key: str) -> None:
        with self._lock:
            self._state.pop(key, None)

    def _prune(self, now: float) -> None:
        # Bounded memory under a flood of distinct keys: drop entries that can no longer lock.
        for key in [k for k, (_, first, _, h) in self._state.items() if now - first > h]:
            del self._state[key]


class RedisLimiter:
    """The same counters in Redis: a counter with a TTL and a lock key with a TTL.

    Every call is bounded by ``timeout`` (connect and read) and never retried: a caller that
    gets :class:`redis.RedisError` decides what to do instead.
    """

    def __init__(self, url: str, *, prefix: str = "jot:limit:", timeout: float = 0.25) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._prefix = prefix
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def retry_after(self, key: str) -> float:
        ttl_ms = int(self._redis.pttl(f"{self._prefix}lock:{key}"))
        return ttl_ms / 1000 if ttl_ms > 0 else 0.0

    def count(self, key: str, policy: LimiterPolicy) -> float:
        count_key = f"{self._prefix}count:{key}"
        pipe = self._redis.pipeline()
        pipe.incr(count_key)
        pipe.expire(count_key, math.ceil(policy.window), nx=True)
        events = int(pipe.execute()[0])
        lock = policy.lockout(events)
        if lock > 0:
            self.lock(key, lock)
        return lock

    def lock(self, key: str, seconds: float) -> None:
        self._redis.set(f"{self._prefix}lock:{key}", b"1", px=max(1, int(seconds * 1000)))

    def locks(self, entries: list[tuple[str, float]]) -> None:
        """Many :meth:`lock` calls in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for key, seconds in entries:
            pipe.set(f"{self._prefix}lock:{key}", b"1", px=max(1, int(seconds * 1000)))
        pipe.execute()

    def epoch(self) -> bytes:
        """Redis's marker of this data set: new after Redis restarted empty."""
        marker = f"{self._prefix}epoch"
        self._redis.set(marker, secrets.token_hex(8), nx=True)
        return bytes(self._redis.get(marker) or b"")

    def clear(self, key: str) -> None:
        self._redis.delete(f"{self._prefix}count:{key}", f"{self._prefix}lock:{key}")

    def ping(self) -> None:
        self._redis.ping()

    def close(self) -> None:
        self._redis.close()


class FallbackLimiter:
    """Redis when it answers, the in-process counters when it does not.

    Every event is counted in process too, so a Redis outage starts from this process's own
    counts rather than from nothing, and a lock either knows refuses. After a Redis error the
    in-process counters answer alone for ``retry_every`` seconds (a hung Redis costs one
    timeout per interval, not one per request); the warning is logged at most once per
    ``warn_every`` seconds.

    Redis is a cache of the locks, whose source is ``refill`` (the database's live locks,
    :mod:`jot.authority.lockbook`): every ``check_every`` seconds Redis's epoch marker is
    read, and when it is new (Redis restarted empty, or this is the first look) every live
    lock is written back.
    """

    def __init__(
        self,
        redis: Limiter,
        memory: MemoryLimiter,
        *,
        retry_every: float = 5.0,
        warn_every: float = 60.0,
        refill: Callable[[], list[tuple[str, float]]] | None = None,
        check_every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import redis as redis_module

        self.redis, self.memory = redis, memory
        self._errors = redis_module.RedisError
        self._retry_every, self._warn_every, self._clock = retry_every, warn_every, clock
        self._down_until = 0.0
        self._warned_at: float | None = None
        self._lock = threading.Lock()
        self._refill, self._check_every = refill, check_every
        self._epoch: bytes | None = None
        self._next_check = 0.0
        self._checking = threading.Lock()

    @property
    def redis_up(self) -> bool:
        return self._clock() >= self._down_until

    def retry_after(self, key: str) -> float:
        if self._refill is not None and self._clock() >= self._next_check:
            self._check_epoch()
        mine = self.memory.retry_after(key)
        return self._try(lambda: max(self.redis.retry_after(key), mine), lambda: mine)

    def count(self, key: str, policy: LimiterPolicy) -> float:
        mine = self.memory.count(key, policy)
        return max(mine, self._try(lambda: self.redis.count(key, policy), lambda: 0.0))

    def lock(self, key: str, seconds: float) -> None:
        self.memory.lock(key, seconds)
        self._try(lambda: self.redis.lock(key, seconds), lambda: None)

    def _check_epoch(self) -> None:
        """Write the live locks back when Redis's epoch marker is new (see the class doc)."""
        if self._refill is None or not self._checking.acquire(blocking=False):
            return
        try:
            self._next_check = self._clock() + self._check_every
            epoch_of = getattr(self.redis, "epoch", None)
            if epoch_of is None or not self.redis_up:
                return
            epoch = self._try(epoch_of, lambda: None)
            if epoch is None or epoch == self._epoch:
                return
            entries = self._refill()
            for key, seconds in entries:
                self.memory.lock(key, seconds)
            write = getattr(self.redis, "locks", None)
            if write is None or not entries or self._try(lambda: write(entries) or 1, lambda: 0):
                self._epoch = epoch  # Else the next check writes them again.
        finally:
            self._checking.release()

    def clear(self, key: str) -> None:
        self.memory.clear(key)
        self._try(lambda: self.redis.clear(key), lambda: None)

    def health(self) -> str:
        """``ok``, or ``unavailable`` while the in-process limits answer (a ping of at
        most one Redis timeout, none while Redis is known to be down)."""
        ping = getattr(self.redis, "ping", None)
        if ping is None:
            return "ok" if self.redis_up else "unavailable"
        return "ok" if self._try(lambda: ping() or True, lambda: False) else "unavailable"

    def close(self) -> None:
        closer = getattr(self.redis, "close", None)
        if closer is not None:
            closer()

    def _try(self, call: Callable[[], T], instead: Callable[[], T]) -> T:
        if not self.redis_up:
            return instead()
        try:
            return call()
        except self._errors as exc:
            self._failed(exc)
            return instead()

    def _failed(self, exc: Any) -> None:
        now = self._clock()
        with self._lock:
            self._down_until = now + self._retry_every
            quiet = self._warned_at is not None and now - self._warned_at < self._warn_every
            if not quiet:
                self._warned_at = now
        if not quiet:
            log.warning(
                "Redis is unavailable for rate limits (%s: %s); using in-process limits "
                "(this warning repeats at most every %.0f s)",
                type(exc).__name__,
                exc,
                self._warn_every,
            )
