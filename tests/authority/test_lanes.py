"""jot.authority.lanes: blocking calls in a few threads, in batches; each call gets its own
answer or error, with its task's context variables, and never more threads than lanes."""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time
from typing import Any

import pytest

from jot.authority.lanes import Lanes

_WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_answers_errors_and_context_per_call() -> None:
    lanes = Lanes(2, "test-lane")

    def answer(n: int) -> str:
        if n == 3:
            raise ValueError("three")
        return f"{n} {_WHO.get()} {threading.current_thread().name.startswith('test-lane')}"

    async def one(n: int) -> str:
        _WHO.set(f"task{n}")
        return await lanes.run(lambda: answer(n))

    try:
        outcomes = await asyncio.gather(*(one(n) for n in range(6)), return_exceptions=True)
    finally:
        lanes.close()
    assert outcomes[:3] == ["0 task0 True", "1 task1 True", "2 task2 True"]
    assert isinstance(outcomes[3], ValueError)
    assert outcomes[4:] == ["4 task4 True", "5 task5 True"]


@pytest.mark.anyio
async def test_never_more_threads_than_lanes_and_waiting_calls_go_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jot.authority import lanes as module

    batches: list[int] = []
    run_all = module._run_all

    def counted(calls: list[Any]) -> list[Any]:
        batches.append(len(calls))
        return run_all(calls)

    monkeypatch.setattr(module, "_run_all", counted)
    lanes = Lanes(2, "test-lane")
    lock = threading.Lock()
    busy, most, threads = 0, 0, set()

    def work() -> None:
        nonlocal busy, most
        with lock:
            busy += 1
            most = max(most, busy)
            threads.add(threading.get_ident())
        time.sleep(0.02)
        with lock:
            busy -= 1

    try:
        await asyncio.gather(*(lanes.run(work) for _ in range(20)))
    finally:
        lanes.close()
    assert most <= 2
    # 20 calls at once in 2 lanes: two batches of 10, one per thread.
    assert batches == [10, 10]
    assert len(threads) == 2


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
@pytest.mark.anyio
async def test_the_lanes_run_under_sched_batch() -> None:
    """Their wake-ups must not preempt the event loop that hands them work."""
    lanes = Lanes(1, "test")
    try:
        assert await lanes.run(lambda: os.sched_getscheduler(0)) == os.SCHED_BATCH
    finally:
        lanes.close()
