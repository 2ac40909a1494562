"""The verification cache: tokens that verified once, remembered until they expire.

Entries are keyed by the SHA-256 of the whole token, so a token that differs in one byte is a
different entry and goes through the full check. An entry is never served at or after the
token's ``exp`` (no leeway here: the cache must not extend a token's life), nor after its
signing key has left the authority's key set.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from jot.destination.settings import CACHE_SIZE

__all__ = ["CachedToken", "VerificationCache", "token_digest"]


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class CachedToken:
    claims: dict[str, Any]
    kid: str | None
    exp: float


class VerificationCache:
    """A bounded LRU of verified tokens; safe to share between threads."""

    def __init__(self, max_entries: int = CACHE_SIZE) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, CachedToken] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes, now: float, kids: Collection[str] | None) -> CachedToken | None:
        """The entry for ``digest`` if still good at ``now`` with the current key ids."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                self.misses += 1
                return None
            if now >= entry.exp or (kids is not None and entry.kid not in kids):
                del self._entries[digest]
                self.misses += 1
                return None
            self._entries.move_to_end(digest)
            self.hits += 1
            return entry

    def put(self, digest: bytes, entry: CachedToken) -> None:
        if self.max_entries == 0:
            return
        with self._lock:
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
