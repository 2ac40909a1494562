"""Grants from the authority: ``GET /api/grants?destination=NAME`` with ETag long-polling.

:class:`GrantsPoll` holds the state and builds requests (no I/O). :class:`AuthorityGrants`
polls in a background thread, :class:`AsyncAuthorityGrants` in an asyncio task. Both keep the
last good grants when the authority is unreachable, and back off between failed attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable

import httpx
from pydantic import ValidationError

from jot._outage import OutageLog
from jot.api import GrantList
from jot.api.untrusted import loads
from jot.destination._http import Flow, check_url, drive, drive_async
from jot.destination.errors import UnavailableError
from jot.destination.grants import GrantIndex

__all__ = ["AsyncAuthorityGrants", "AuthorityGrants", "GrantsPoll"]

log = logging.getLogger("jot.destination")

MAX_GRANTS_BYTES = 8 * 1024 * 1024
#: Least seconds between the starts of two polls.
MIN_POLL_INTERVAL = 1.0
# Our own generator: the refresh thread must not draw from (and so move) the global one that
# applications, and Hypothesis in our tests, own.
_jitter = random.Random()  # noqa: S311 - jitter, not a secret


class GrantsPoll:
    """ETag long-poll state for one destination's grants."""

    def __init__(
        self, issuer: str, destination: str, access_key: str | None, *, min_interval: float = 5.0
    ) -> None:
        self.url = check_url(issuer, "issuer").rstrip("/") + "/api/grants"
        self.destination = destination
        self.access_key = access_key
        self.min_interval = min_interval
        self.index: GrantIndex | None = None
        self.etag: str | None = None
        self.revision: int | None = None
        self.last_attempt: float | None = None

    def due_for_first_load(self, now: float) -> bool:
        return self.index is None and (
            self.last_attempt is None or now - self.last_attempt >= self.min_interval
        )

    def flow(self, wait: float, now: float) -> Flow[bool]:
        """One poll; the result says whether the grants changed."""
        self.last_attempt = now
        params: dict[str, str] = {"destination": self.destination}
        headers = {"Accept": "application/json"}
        if self.access_key:
            headers["Authorization"] = "Bearer " + self.access_key
        if self.etag is not None and self.index is not None:
            headers["If-None-Match"] = self.etag
            if wait > 0:
                params["wait"] = str(int(wait))
        timeout = httpx.Timeout(10.0, read=wait + 10.0)
        request = httpx.Request(
            "GET", self.url, params=params, headers=headers,
            extensions={"timeout": timeout.as_dict()},
        )  # fmt: skip
        return self._handle((yield request))

    def _handle(self, response: httpx.Response) -> bool:
        if response.status_code == 304 and self.index is not None:
            return False
        if response.status_code != 200:
            raise UnavailableError(f"grants: {_refusal(response)}")
        try:
            grants = GrantList.model_validate_json(response.content)
        except ValidationError as exc:
            raise UnavailableError("grants: not a GrantList") from exc
        self.index = GrantIndex((g.model_dump() for g in grants.items), grants.revoked)
        self.etag = response.headers.get("etag")
        self.revision = grants.revision
        return True

    @property
    def mentioned_groups(self) -> frozenset[str]:
        return self.index.mentioned_groups if self.index is not None else frozenset()

    def roles_for(
        self, name: str, groups: Iterable[str], resource: str, *, now: float | None = None
    ) -> frozenset[str]:
        if self.index is None:
            raise UnavailableError("no grants from the authority yet")
        return self.index.roles_for(name, groups, resource, now=now)


def _refusal(response: httpx.Response) -> str:
    """``HTTP 403: <the authority's reason>`` (a connector without the connector grant, a
    revoked key …), or the bare status when the answer is not jot's."""
    try:
        reason = str(loads(response.content)["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
    return f"HTTP {response.status_code}: {reason[:200]}"


class _Outage:
    """When to retry a failing refresh; the log says it once per outage (:class:`OutageLog`).

    Retries come every ``retry_every`` seconds (with jitter, so that many destinations do not
    knock together): a failed poll costs a down authority nothing, and a destination catches
    up within about that time after the authority returns, where a back-off to 30 s made it
    wait up to 30 s. The retry is a conditional poll without ``wait``: a 304 when nothing
    changed.
    """

    def __init__(
        self, destination: str, *, retry_every: float = 1.0, clock: Callable[[], float]
    ) -> None:
        self.retry_every = retry_every
        self.log = OutageLog(
            log, f"grants refresh (destination {destination})", every=30.0, clock=clock
        )

    @property
    def failing(self) -> bool:
        return self.log.failing

    def failed(self, exc: Exception) -> float:
        """Note a failure; the seconds to wait before the next attempt."""
        self.log.failed(exc)
        return self.retry_every * _jitter.uniform(0.75, 1.0)


def _first_load(refresh: Callable[[], bool]) -> None:
    try:
        refresh()
    except (httpx.HTTPError, UnavailableError) as exc:
        # Said once per attempt (at most every few seconds), with the authority's reason.
        log.warning("grants refresh failed: %s", exc)


class AuthorityGrants:
    """Grants kept fresh by a background thread (call :meth:`start`, or let the first
    :meth:`roles_for` load them once)."""

    def __init__(
        self,
        issuer: str,
        destination: str,
        *,
        access_key: str | None = None,
        http: httpx.Client | None = None,
        wait: float = 30.0,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.poll = GrantsPoll(issuer, destination, access_key)
        self._http = http or httpx.Client()
        self._owns_http = http is None
        self._wait = wait
        self._background = background
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self, wait: float = 0.0) -> bool:
        return drive(self._http, self.poll.flow(wait, self._clock()), MAX_GRANTS_BYTES)

    def roles_for(
        self, name: str, groups: Iterable[str], resource: str, *, now: float | None = None
    ) -> frozenset[str]:
        if self.poll.index is None:
            # Taken even when no load is due: a first load in flight (a cold start) is waited
            # for, not answered 503 (its rate limit counts it from its start).
            with self._lock:
                if self.poll.due_for_first_load(self._clock()):
                    _first_load(self.refresh)
        if self._background and self._thread is None and self.poll.index is not None:
            with self._lock:
                self.start()  # Keep the grants fresh from now on.
        return self.poll.roles_for(name, groups, resource, now=now)

    @property
    def mentioned_groups(self) -> frozenset[str]:
        return self.poll.mentioned_groups

    @property
    def index(self) -> GrantIndex | None:
        """The current grants (see :class:`~jot.destination.grants.GrantSource`)."""
        return self.poll.index

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="jot-grants", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        outage = _Outage(self.poll.destination, clock=self._clock)
        try:
            while not self._stop.is_set():
                started = self._clock()
                try:
                    # While failing, a short poll: the authority's return is seen at once.
                    self.refresh(0.0 if outage.failing else self._wait)
                    outage.log.ok()
                    # An authority that answers at once (no long-poll) is not polled in a spin.
                    self._stop.wait(max(0.0, MIN_POLL_INTERVAL - (self._clock() - started)))
                except (httpx.HTTPError, UnavailableError) as exc:
                    self._stop.wait(outage.failed(exc))
        finally:
            if self._owns_http:
                self._http.close()

    def close(self, timeout: float = 1.0) -> None:
        """Stop the refresh. A long-poll in flight cannot be interrupted: the thread ends
        (and closes its HTTP client) when the authority answers it; this waits up to
        ``timeout`` seconds for that."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        elif self._owns_http:
            self._http.close()


class AsyncAuthorityGrants:
    """Grants kept fresh by an asyncio task, started on first use inside the event loop."""

    def __init__(
        self,
        issuer: str,
        destination: str,
        *,
        access_key: str | None = None,
        http: httpx.AsyncClient | None = None,
        wait: float = 30.0,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.poll = GrantsPoll(issuer, destination, access_key)
        self._http = http or httpx.AsyncClient()
        self._wait = wait
        self._background = background
        self._clock = clock
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def refresh(self, wait: float = 0.0) -> bool:
        flow = self.poll.flow(wait, self._clock())
        return await drive_async(self._http, flow, MAX_GRANTS_BYTES)

    async def aroles_for(
        self, name: str, groups: Iterable[str], resource: str, *, now: float | None = None
    ) -> frozenset[str]:
        if self.poll.index is None:
            async with self._lock:  # As in AuthorityGrants.roles_for.
                if self.poll.due_for_first_load(self._clock()):
                    try:
                        await self.refresh()
                    except (httpx.HTTPError, UnavailableError) as exc:
                        log.warning("grants refresh failed: %s", exc)
        if self._background and self._task is None and self.poll.index is not None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self.poll.roles_for(name, groups, resource, now=now)

    @property
    def mentioned_groups(self) -> frozenset[str]:
        return self.poll.mentioned_groups

    @property
    def index(self) -> GrantIndex | None:
        """The current grants (see :class:`~jot.destination.grants.GrantSource`)."""
        return self.poll.index

    async def _run(self) -> None:
        outage = _Outage(self.poll.destination, clock=self._clock)
        while True:
            started = self._clock()
            try:
                await self.refresh(0.0 if outage.failing else self._wait)
                outage.log.ok()
                await asyncio.sleep(max(0.0, MIN_POLL_INTERVAL - (self._clock() - started)))
            except (httpx.HTTPError, UnavailableError) as exc:
                await asyncio.sleep(outage.failed(exc))

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._http.aclose()
