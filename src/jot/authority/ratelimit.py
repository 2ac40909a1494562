"""Login rate limits with a growing back-off, per identity name and per client address.

After ``max_failures`` failures inside ``window`` seconds a key is locked for
``base * 2**(failures - max_failures)`` seconds, capped at ``cap``. A success clears the
key. In-process by default; shared through Redis when ``JOT_REDIS_URL`` is set, so that
replicas count together. There is never "no limit".
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Limiter", "LimiterPolicy", "MemoryLimiter", "RedisLimiter"]


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

    def failure(self, key: str) -> None: ...

    def success(self, key: str) -> None: ...


class MemoryLimiter:
    def __init__(self, policy: LimiterPolicy, clock: Any = time.monotonic) -> None:
        self.policy, self._clock = policy, clock
        self._lock = threading.Lock()
        # key -> (failures, first failure time, locked until)
        self._state: dict[str, tuple[int, float, float]] = {}

    def retry_after(self, key: str) -> float:
        with self._lock:
            entry = self._state.get(key)
            return max(0.0, entry[2] - self._clock()) if entry else 0.0

    def failure(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            failures, first, _ = self._state.get(key, (0, now, 0.0))
            if now - first > self.policy.window:
                failures, first = 0, now
            failures += 1
            self._state[key] = (failures, first, now + self.policy.lockout(failures))
            if len(self._state) > 100_000:
                self._prune(now)

    def success(self, key: str) -> None:
        with self._lock:
            self._state.pop(key, None)

    def _prune(self, now: float) -> None:
        # Bounded memory under a flood of distinct names: drop entries that expired.
        horizon = self.policy.window + self.policy.cap
        for key in [k for k, (_, first, _) in self._state.items() if now - first > horizon]:
            del self._state[key]


class RedisLimiter:
    """The same policy in Redis: a failure counter with a TTL and a lock key with a TTL."""

    def __init__(self, url: str, policy: LimiterPolicy, prefix: str = "jot:login:") -> None:
        import redis

        self.policy, self._prefix = policy, prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=2)

    def retry_after(self, key: str) -> float:
        ttl_ms = int(self._redis.pttl(f"{self._prefix}lock:{key}"))
        return ttl_ms / 1000 if ttl_ms > 0 else 0.0

    def failure(self, key: str) -> None:
        count_key = f"{self._prefix}count:{key}"
        pipe = self._redis.pipeline()
        pipe.incr(count_key)
        pipe.expire(count_key, math.ceil(self.policy.window), nx=True)
        failures = int(pipe.execute()[0])
        lock = self.policy.lockout(failures)
        if lock > 0:
            self._redis.set(f"{self._prefix}lock:{key}", b"1", px=max(1, int(lock * 1000)))

    def success(self, key: str) -> None:
        self._redis.delete(f"{self._prefix}count:{key}", f"{self._prefix}lock:{key}")

    def close(self) -> None:
        self._redis.close()
