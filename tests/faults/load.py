"""Load for fault tests: threads that send one kind of request in a loop and record every
outcome (when, how long, which status; 0 for no HTTP answer at all)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Outcome:
    kind: str
    at: float  # time.monotonic() when the request was sent
    took: float
    status: int  # 0: no HTTP answer (connection refused or reset, timeout)


Request = Callable[[httpx.Client, int], httpx.Response]


@dataclass
class Load:
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 15.0
    pause: float = 0.02
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, request: Request, threads: int = 1) -> None:
        for n in range(threads):
            thread = threading.Thread(target=self._loop, args=(kind, request, n), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _loop(self, kind: str, request: Request, worker: int) -> None:
        with httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=self.timeout
        ) as http:
            n = 0
            while not self._stop.is_set():
                n += 1
                started = time.monotonic()
                try:
                    status = request(http, worker * 1_000_000 + n).status_code
                except httpx.HTTPError:
                    status = 0
                outcome = Outcome(kind, started, time.monotonic() - started, status)
                with self._lock:
                    self.outcomes.append(outcome)
                self._stop.wait(self.pause)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def of(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind]

    def bad(self) -> list[Outcome]:
        """Answers no client should ever see: no answer at all, or a 5xx other than 503."""
        return [o for o in self.outcomes if o.status == 0 or (o.status >= 500 and o.status != 503)]

    def first_success_after(self, kind: str, moment: float) -> float | None:
        """Seconds from ``moment`` until a request of ``kind`` sent after it succeeded."""
        done = [o.at + o.took for o in self.of(kind) if o.at >= moment and o.status < 400]
        return min(done) - moment if done else None
