"""Outgoing notifications of access-request events (the ``webhook_url`` setting).

Each event is one signed JSON ``POST`` (:mod:`jot.api.webhooks`), whose ``text`` field reads
as a chat message, so that a Slack- or Mattermost-style incoming webhook shows it as it is.
Delivery runs in one background thread per process, after the change is committed: a slow
or broken receiver never holds up a request. A failed delivery is retried twice, then
logged and dropped: notifications are a convenience, the audit log is the record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from jot.api import webhooks

__all__ = ["Notifier"]

log = logging.getLogger("jot.authority")

#: Seconds to wait before each retry of a failed delivery.
RETRIES = (1.0, 4.0)
#: Events waiting to be delivered; beyond this, new ones are dropped (and logged).
QUEUE_SIZE = 1000


class Notifier:
    """Signs and delivers events to one URL, in order, from a daemon thread."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        http: httpx.Client | None = None,
        retries: Sequence[float] = RETRIES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self._secret = secret
        self._http = http or httpx.Client(timeout=5.0)
        self._retries = tuple(retries)
        self._clock = clock
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def send(self, event: str, payload: dict[str, Any]) -> None:
        """Queue ``payload`` (with ``event`` in it) for delivery; never blocks."""
        body = json.dumps({"event": event, **payload}, sort_keys=True, default=str).encode()
        try:
            self._queue.put_nowait((event, body))
        except queue.Full:
            log.warning("webhook: %d events wait already; %s not sent", QUEUE_SIZE, event)
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jot-notify", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            event, body = item
            delivery = str(uuid.uuid4())  # One id for every attempt: receivers can dedupe.
            for wait in (*self._retries, None):
                problem = self._deliver(event, delivery, body)
                if problem is None:
                    break
                if wait is None or self._stop.is_set() or self._stop.wait(wait):
                    log.warning("webhook: %s not delivered: %s", event, problem)
                    break

    def _deliver(self, event: str, delivery: str, body: bytes) -> str | None:
        """One attempt; the problem, or ``None`` when the receiver took it (2xx)."""
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            webhooks.EVENT_HEADER: event,
            webhooks.DELIVERY_HEADER: delivery,
            webhooks.TIMESTAMP_HEADER: str(timestamp),
            webhooks.SIGNATURE_HEADER: webhooks.signature(self._secret, timestamp, body),
        }
        try:
            response = self._http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"

    def close(self, timeout: float = 2.0) -> None:
        """Deliver what is queued (for up to ``timeout`` seconds), then stop."""
        self._stop.set()  # What waits for a retry is tried once more, not again and again.
        if self._thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout)
            self._thread.join(timeout)
        self._http.close()
