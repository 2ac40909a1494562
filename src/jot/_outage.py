"""One log line per outage, not one per failed request (standard library only: the
authority and the destinations both use it).

A dependency that is down makes every request fail the same way; a line (or a traceback)
for each of them buries the log (10 s of a PostgreSQL outage wrote 5.4 MB per replica).
:class:`OutageLog` says it once when the failures start, once per ``every`` seconds while
they go on (with the number of failures it folded), and once when the dependency works again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["OutageLog"]


class OutageLog:
    """Thread-safe; :meth:`ok` is one attribute check while nothing is failing."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log, self.what, self.every, self._clock = logger, what, every, clock
        self.since: float | None = None
        self._said_at = 0.0
        self._folded = 0
        self._lock = threading.Lock()

    @property
    def failing(self) -> bool:
        return self.since is not None

    def failed(self, reason: object) -> None:
        now = self._clock()
        with self._lock:
            if self.since is None:
                self.since, self._said_at, self._folded = now, now, 0
                first, folded, since = True, 0, now
            elif now - self._said_at >= self.every:
                self._said_at, folded, self._folded = now, self._folded, 0
                first, since = False, self.since
            else:
                self._folded += 1
                return
        if first:
            self._log.warning(
                "%s failed: %s (said again every %.0f s while it lasts)",
                self.what, _one_line(reason), self.every,
            )  # fmt: skip
        else:
            self._log.warning(
                "%s still failing after %.0f s (%d more failures): %s",
                self.what, now - since, folded + 1, _one_line(reason),
            )  # fmt: skip

    def ok(self) -> None:
        if self.since is None:
            return
        with self._lock:
            since, self.since = self.since, None
        if since is not None:
            self._log.warning("%s works again after %.0f s", self.what, self._clock() - since)


def _one_line(reason: object) -> str:
    """The first line of an error's text (drivers add hints and SQL on later lines), or its
    type's name when it has no text."""
    lines = str(reason).strip().splitlines()
    return lines[0][:300] if lines else type(reason).__name__
