"""The verification cache: tokens that verified once, remembered until they expire, each with
the last decision made for it.

Entries are keyed by the whole token, so a token that differs in one byte is a different entry
and goes through the full check. (The key was its SHA-256: hashing a 400-byte token took
0.5–0.8 µs of the ~4 µs of a cached decision, where a dict hashes the string in a third of
that. The price is memory, about half a kilobyte per entry.) An entry is never served at or
after the token's ``exp`` (no leeway here: the cache must not extend a token's life), nor
after the key that verified it has left the key set. Its decision (the :class:`Identity` with
its roles) is reused only while the grants are the very same
:class:`~jot.destination.grants.GrantIndex` and the resource is the same: a change of grants
builds a new index, so no decision outlives the grants it came from.

When the cache is full, a new token takes the place of an expired one or is not kept. An LRU
would evict each entry just before its next use once more live tokens pass than it holds
(20,000 tokens in rotation through 10,000 places: no hit at all, and the eviction work on top,
slower than no cache, ``docs/benchmarks.md``); keeping what it holds until it expires serves a
steady share of them instead. Tokens live minutes, so the kept set renews itself.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from jot.destination.identity import Identity
from jot.destination.settings import CACHE_SIZE

__all__ = ["CachedToken", "Decision", "VerificationCache"]

#: Expired entries freed at the front (the oldest) when a new token finds the cache full.
_FREED_PER_PUT = 4


@dataclass(frozen=True, slots=True)
class Decision:
    """The identity decided for a token at ``resource`` under ``grants`` (the index object)."""

    grants: object
    resource: str
    identity: Identity
    #: When a time-bound grant behind it lapses (None: none is time-bound): not used after.
    until: float | None = None


@dataclass(slots=True)
class CachedToken:
    claims: dict[str, Any]
    #: The verifying key's name (:func:`jot.destination.jwks.key_name`), None if unknown.
    key: str | None
    exp: float
    #: The last decision for this token; replaced whenever the grants or resource differ.
    decision: Decision | None = None


class VerificationCache:
    """A bounded map of verified tokens; safe to share between threads."""

    def __init__(self, max_entries: int = CACHE_SIZE) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self.max_entries = max_entries
        # Insertion order: the front holds the oldest entries, the first to expire.
        self._entries: dict[str, CachedToken] = {}
        self._lock = threading.Lock()
        self._refused = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, now: float, keys: Collection[str] | None) -> CachedToken | None:
        """The entry for ``token`` if still good at ``now`` with the current key names
        (None: the key set never changes)."""
        entry = self._entries.get(token)
        if entry is None:
            self.misses += 1
            return None
        if now >= entry.exp or (keys is not None and entry.key not in keys):
            with self._lock:
                self._entries.pop(token, None)
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(self, token: str, entry: CachedToken, now: float) -> None:
        """Keep ``entry`` if there is room, or room can be made from expired entries."""
        if self.max_entries == 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries and not self._free(now):
                return
            self._entries[token] = entry

    def _free(self, now: float) -> bool:
        """Drop expired entries from the front (and, once per ``max_entries`` refused
        tokens, from everywhere: lifetimes differ); whether there is room now."""
        for _ in range(_FREED_PER_PUT):
            oldest = next(iter(self._entries))
            if now < self._entries[oldest].exp:
                break
            del self._entries[oldest]
        if len(self._entries) < self.max_entries:
            return True
        self._refused += 1
        if self._refused >= self.max_entries:
            self._refused = 0
            for token in [t for t, e in self._entries.items() if now >= e.exp]:
                del self._entries[token]
        return len(self._entries) < self.max_entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
