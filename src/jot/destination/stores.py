"""Deny-list and replay stores: in memory (one process) or Redis (shared by replicas).

A deny-list answers "is this token id or this subject revoked?"; a replay store answers "is
this the first use of this token id?" (for one-time tokens). Entries carry an expiry so that
stores do not grow without bound: a token id needs remembering only until its token expires.
Sync stores serve :class:`~jot.destination.verifier.Verifier`; the ``Async*`` ones serve
:class:`~jot.destination.verifier.AsyncVerifier`, which also accepts the sync in-memory store.

The Redis stores (:mod:`jot.destination.redis_stores`) keep the last known deny-list in
memory too: while Redis fails they answer from it (or refuse with 503 when made with
``fail_closed=True``), and after Redis restarts empty they write it back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from jot.destination.errors import UnavailableError

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

    def deny(self, entry: str, until: float) -> None:
        """Deny ``jti:ID`` or ``sub:SUBJECT`` until ``until`` (``inf``: for ever)."""
        with self._lock:
            if self._denied.get(entry, 0.0) < until:
                self._denied[entry] = until

    def denied(self) -> dict[str, float]:
        """The live entries: ``{"jti:ID" or "sub:SUBJECT": until}``."""
        now = self._clock()
        with self._lock:
            live = {k: v for k, v in self._denied.items() if v > now}
            self._denied = dict(live)
        return live

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


# The Redis stores live in their own module; they are named here too, where they always were.
from jot.destination.redis_stores import AsyncRedisStore, RedisStore  # noqa: E402
