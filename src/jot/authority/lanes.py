"""Blocking calls of concurrent requests, run in a few threads of their own, in batches.

Handing each call to a thread on its own (anyio's pool, or an executor) costs the event loop
a future, a thread wake-up and a wake-up of its own per call, and with many threads the GIL
changes hands all the time: for a token check that misses the caches (~200 µs of work),
that cost as much again. :class:`Lanes` runs calls in at most ``lanes`` threads; the calls
that arrive while every lane is busy wait and go together, one after another in one
thread, as the next batch (as :class:`jot.authority.audit.GroupCommit` does for audit rows).
A call arriving at an idle moment starts at once, so nothing waits for a batch to fill, and
each running lane takes an even share of the waiting calls.

The lanes run under Linux's ``SCHED_BATCH`` policy: a thread woken with work then does not
preempt the event loop that woke it (with more runnable threads than cores, as with two
server processes on two cores, the hand-off's wake-up often did, and the loop waited).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["Lanes"]

T = TypeVar("T")

_Outcome = tuple[BaseException | None, Any]


def _disfavoured() -> None:
    """This thread under ``SCHED_BATCH`` where there is one (Linux): its wake-ups do not
    preempt other threads; it still gets its share of the CPU."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def _run_all(calls: list[Callable[[], Any]]) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    for call in calls:
        try:
            outcomes.append((None, call()))
        except Exception as exc:  # Each call's own answer; the others go on.
            outcomes.append((exc, None))
    return outcomes


class Lanes:
    """At most ``lanes`` threads running the calls of :meth:`run`, in batches."""

    def __init__(self, lanes: int, name: str) -> None:
        self._lanes = lanes
        self._executor = ThreadPoolExecutor(
            lanes, thread_name_prefix=name, initializer=_disfavoured
        )
        self._pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._running = 0  # Lanes started (each a task that drains the waiting calls).
        self._busy = 0  # Of which running a batch in their thread.
        self._drains: set[asyncio.Task[None]] = set()  # Referenced while they run.

    async def run(self, call: Callable[[], T]) -> T:
        """``call()`` in one of the threads (with this task's context variables)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._pending.append((functools.partial(contextvars.copy_context().run, call), done))
        if self._running < self._lanes:
            self._running += 1
            drain = loop.create_task(self._drain(loop))
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await done

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        batch: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        try:
            while self._pending:
                # An even share of what waits, among the lanes not busy (each gets some).
                share = -(-len(self._pending) // (self._running - self._busy))
                batch, self._pending = self._pending[:share], self._pending[share:]
                calls = [call for call, _ in batch]
                self._busy += 1
                try:
                    outcomes = await loop.run_in_executor(self._executor, _run_all, calls)
                finally:
                    self._busy -= 1
                for (_, done), (error, value) in zip(batch, outcomes, strict=True):
                    if done.done():  # Its request was cancelled meanwhile.
                        continue
                    if error is None:
                        done.set_result(value)
                    else:
                        done.set_exception(error)
                batch = []
        finally:
            self._running -= 1
            for _, done in batch:  # Cancelled (the loop is shutting down): nobody waits.
                done.cancel()

    def close(self) -> None:
        self._executor.shutdown(wait=False)
