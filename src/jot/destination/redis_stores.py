"""Deny-list and replay stores in Redis, shared by every replica of a destination, that
survive Redis failing.

Each deny entry is a key with a TTL (one ``EXISTS`` per check) and a member of an index
(a sorted set scored by expiry). Every ``sync_every`` seconds a store reads the index into
its own memory, the *last known list*, and checks Redis's *epoch* marker:

- **Redis down or hung** (every call has a short timeout when made by :meth:`from_url`):
  the deny-list answers from the last known list, and a one-time token is checked against
  this process's own memory; with ``fail_closed=True`` both refuse instead
  (:class:`UnavailableError`, a 503). Redis is tried again after ``retry_every`` seconds;
  the log says it once per outage.
- **Redis restarted empty** (the epoch marker is gone): the store writes its last known list
  back, so a denied token stays denied. Entries that could not be written during an outage
  are written on the first sync after it.

Entries of the last known list are consulted on every check, so nothing this process knew
is forgotten between a restart of Redis and the next sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from jot._outage import OutageLog
from jot.destination.errors import UnavailableError
from jot.destination.stores import MemoryStore

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["AsyncRedisStore", "RedisStore"]

log = logging.getLogger("jot.destination")

T = TypeVar("T")

#: Seconds each Redis call may take, for stores made by ``from_url``.
DEFAULT_TIMEOUT = 0.25


def _ttl_ms(expires: float, now: float) -> int:
    return max(1, int((expires - now) * 1000) + 1)


def _redis_errors() -> tuple[type[Exception], ...]:
    import redis

    return (redis.RedisError, OSError, TimeoutError)


class _Core:
    """The decisions of both stores, without I/O: keys, the last known list, the epoch,
    and what to do while Redis fails."""

    def __init__(
        self,
        prefix: str,
        *,
        clock: Callable[[], float],
        fail_closed: bool,
        sync_every: float,
        retry_every: float,
    ) -> None:
        self.prefix = prefix
        self.clock = clock
        self.fail_closed = fail_closed
        self.sync_every, self.retry_every = sync_every, retry_every
        self.known = MemoryStore(clock=clock)
        self.index = prefix + "deny-index"
        self.epoch_key = prefix + "epoch"
        self.epoch: bytes | None = None
        self.dirty = True  # Entries Redis may lack: written back on the next sync.
        self.synced_at: float | None = None
        self.down_until = 0.0
        self.outage = OutageLog(log, f"deny-list and replay store (Redis, {prefix}*)")
        self.errors = _redis_errors()

    def key(self, entry: str) -> str:
        return self.prefix + "deny:" + entry

    def keys(self, token_id: str, subject: str) -> tuple[str, str]:
        return self.key("jti:" + token_id), self.key("sub:" + subject)

    def usable(self) -> bool:
        """Whether to try Redis now (not within ``retry_every`` of a failure)."""
        return self.down_until == 0.0 or self.clock() >= self.down_until

    def sync_due(self) -> bool:
        now = self.clock()
        return self.synced_at is None or now - self.synced_at >= self.sync_every

    def failed(self, exc: BaseException) -> None:
        self.down_until = self.clock() + self.retry_every
        self.outage.failed(exc)

    def worked(self) -> None:
        if self.down_until:
            self.down_until = 0.0
            self.dirty = True  # Writes may have failed meanwhile.
        self.outage.ok()

    def without_redis(self, answer: Callable[[], T]) -> T:
        if self.fail_closed:
            raise UnavailableError("the deny-list and replay store (Redis) is unavailable")
        return answer()

    def remember(self, entry: str, until: float | None) -> float:
        expiry = math.inf if until is None else until
        self.known.deny(entry, expiry)
        return expiry

    def refill(self) -> list[tuple[str, float]]:
        """Entries to write back: all of the last known list."""
        return list(self.known.denied().items())

    def queue_writes(self, pipe: Any, entries: list[tuple[str, float]]) -> None:
        """Each entry's key (with its TTL) and its index member, onto a pipeline (sync or
        async: queueing does no I/O)."""
        now = self.clock()
        for entry, until in entries:
            if math.isinf(until):
                pipe.set(self.key(entry), b"1")
            else:
                pipe.set(self.key(entry), b"1", px=_ttl_ms(until, now))
            pipe.zadd(self.index, {entry: until})

    def learn(self, members: list[tuple[bytes, float]]) -> None:
        for member, score in members:
            self.known.deny(member.decode(), score)


class RedisStore:
    """Deny-list and replay store in Redis over a sync client (see the module's doc)."""

    def __init__(
        self,
        client: redis.Redis[Any],
        *,
        prefix: str = "jot:dest:",
        clock: Callable[[], float] = time.time,
        fail_closed: bool = False,
        sync_every: float = 2.0,
        retry_every: float = 5.0,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._core = _Core(
            prefix, clock=clock, fail_closed=fail_closed, sync_every=sync_every,
            retry_every=retry_every,
        )  # fmt: skip
        self._sync_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> RedisStore:
        """A store on its own client whose every call is bounded by ``timeout`` seconds."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        return cls(client, **options)

    def close(self) -> None:
        self._redis.close()

    @contextlib.contextmanager
    def _calls(self) -> Iterator[None]:
        try:
            yield
        except self._core.errors as exc:
            self._core.failed(exc)
            raise _Failed from exc
        self._core.worked()

    def deny_token(self, token_id: str, until: float | None = None) -> None:
        self._deny("jti:" + token_id, until)

    def deny_subject(self, subject: str, until: float | None = None) -> None:
        self._deny("sub:" + subject, until)

    def _deny(self, entry: str, until: float | None) -> None:
        expiry = self._core.remember(entry, until)
        if not self._core.usable():
            return  # Written back on the first sync after the outage.
        with contextlib.suppress(_Failed), self._calls():
            self._write([(entry, expiry)])

    def _write(self, entries: list[tuple[str, float]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        self._core.queue_writes(pipe, entries)
        pipe.execute()

    def is_denied(self, token_id: str, subject: str) -> bool:
        core = self._core
        self._sync()
        if core.known.is_denied(token_id, subject):
            return True
        if not core.usable():
            return core.without_redis(lambda: False)
        try:
            with self._calls():
                return int(self._redis.exists(*core.keys(token_id, subject))) > 0
        except _Failed:
            return core.without_redis(lambda: False)

    def first_use(self, token_id: str, expires: float) -> bool:
        # SET NX is atomic: of two replicas seeing the same token at once, exactly one wins.
        core = self._core
        key = self._prefix + "seen:" + token_id
        if core.usable():
            try:
                with self._calls():
                    return bool(
                        self._redis.set(key, b"1", nx=True, px=_ttl_ms(expires, core.clock()))
                    )
            except _Failed:
                pass
        return core.without_redis(lambda: core.known.first_use(token_id, expires))

    def _sync(self) -> None:
        core = self._core
        if not core.sync_due() or not core.usable() or not self._sync_lock.acquire(False):
            return
        try:
            core.synced_at = core.clock()
            with contextlib.suppress(_Failed), self._calls():
                epoch = self._redis.get(core.epoch_key)
                if epoch is None:  # Redis lost everything: a new epoch, then the refill.
                    self._redis.set(core.epoch_key, secrets.token_hex(8), nx=True)
                    epoch = self._redis.get(core.epoch_key)
                if epoch != core.epoch or core.dirty:
                    self._write(core.refill())
                    core.epoch, core.dirty = epoch, False
                now = core.clock()
                core.learn(self._redis.zrangebyscore(core.index, now, "+inf", withscores=True))
                self._redis.zremrangebyscore(core.index, "-inf", now)
        finally:
            self._sync_lock.release()


class _Failed(Exception):
    """A Redis call failed (the outage is noted); the caller answers without Redis."""


class AsyncRedisStore:
    """:class:`RedisStore` over ``redis.asyncio``; every call is also bounded by
    ``timeout`` here, whatever the client's own settings."""

    def __init__(
        self,
        client: redis.asyncio.Redis[Any],
        *,
        prefix: str = "jot:dest:",
        clock: Callable[[], float] = time.time,
        fail_closed: bool = False,
        sync_every: float = 2.0,
        retry_every: float = 5.0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._timeout = timeout
        self._core = _Core(
            prefix, clock=clock, fail_closed=fail_closed, sync_every=sync_every,
            retry_every=retry_every,
        )  # fmt: skip
        self._syncing = False

    @classmethod
    def from_url(
        cls, url: str, *, timeout: float = DEFAULT_TIMEOUT, **options: Any
    ) -> AsyncRedisStore:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        client = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        return cls(client, timeout=timeout, **options)

    async def aclose(self) -> None:
        await self._redis.aclose()  # type: ignore[attr-defined]  # (old stubs)

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            result = await asyncio.wait_for(call, self._timeout)
        except self._core.errors as exc:
            self._core.failed(exc)
            raise _Failed from exc
        self._core.worked()
        return result

    async def deny_token(self, token_id: str, until: float | None = None) -> None:
        await self._deny("jti:" + token_id, until)

    async def deny_subject(self, subject: str, until: float | None = None) -> None:
        await self._deny("sub:" + subject, until)

    async def _deny(self, entry: str, until: float | None) -> None:
        expiry = self._core.remember(entry, until)
        if self._core.usable():
            with contextlib.suppress(_Failed):
                await self._write([(entry, expiry)])

    async def _write(self, entries: list[tuple[str, float]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        self._core.queue_writes(pipe, entries)
        await self._call(pipe.execute())

    async def is_denied(self, token_id: str, subject: str) -> bool:
        core = self._core
        await self._sync()
        if core.known.is_denied(token_id, subject):
            return True
        if not core.usable():
            return core.without_redis(lambda: False)
        try:
            return int(await self._call(self._redis.exists(*core.keys(token_id, subject)))) > 0
        except _Failed:
            return core.without_redis(lambda: False)

    async def first_use(self, token_id: str, expires: float) -> bool:
        core = self._core
        key = self._prefix + "seen:" + token_id
        if core.usable():
            px = _ttl_ms(expires, core.clock())
            with contextlib.suppress(_Failed):
                return bool(await self._call(self._redis.set(key, b"1", nx=True, px=px)))
        return core.without_redis(lambda: core.known.first_use(token_id, expires))

    async def _sync(self) -> None:
        core = self._core
        if not core.sync_due() or not core.usable() or self._syncing:
            return
        self._syncing = True
        try:
            core.synced_at = core.clock()
            with contextlib.suppress(_Failed):
                epoch = await self._call(self._redis.get(core.epoch_key))
                if epoch is None:
                    await self._call(self._redis.set(core.epoch_key, secrets.token_hex(8), nx=True))
                    epoch = await self._call(self._redis.get(core.epoch_key))
                if epoch != core.epoch or core.dirty:
                    await self._write(core.refill())
                    core.epoch, core.dirty = epoch, False
                now = core.clock()
                index = self._redis.zrangebyscore(core.index, now, "+inf", withscores=True)
                core.learn(await self._call(index))
                await self._call(self._redis.zremrangebyscore(core.index, "-inf", now))
        finally:
            self._syncing = False
