"""Shared timing code for the scripts under ``bench/``: cases, fair measurement, one table.

A benchmark is a list of :class:`Case` objects. Cases with the same ``(operation, alg)`` form a
group; each group has one ``floor`` case (the least work any library could do) that every other
case of the group is compared with. Adding rows means appending cases: the table, the ratios
and the target checks follow.

Measurement, chosen to be fair on a small, shared, noisy machine:

* each case gets a batch size so that one batch takes about ``batch_seconds`` (a few ms:
  shorter than a scheduler time slice, so most batches run without being preempted);
* a round times ``repeats`` batches of every case and keeps each case's fastest batch (the
  one least disturbed by other processes); inside a round the groups run one after another
  and the cases of a group take turns in a fresh random order, so a library and its floor
  are measured milliseconds apart, under the same load;
* the figure is the median over rounds of the per-operation time, and a ratio is the median
  over rounds of (case time / floor time in the same round), which cancels slow drifts in the
  machine's load;
* each batch is preceded by a tenth as many untimed calls (warm caches);
* the garbage collector is collected before each round and disabled during each batch, for
  everyone.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CLOCKS",
    "FLOOR",
    "Case",
    "Result",
    "Target",
    "check_targets",
    "measure",
    "render_table",
    "render_targets",
    "use_clock",
]

#: The library name of the reference case of each group.
FLOOR = "floor"


@dataclass(frozen=True)
class Case:
    """One thing to time: ``fn()`` performs a single operation."""

    library: str
    operation: str
    alg: str
    fn: Callable[[], object]

    @property
    def group(self) -> tuple[str, str]:
        return (self.operation, self.alg)


@dataclass
class Result:
    """The timings of one case: nanoseconds per operation, one figure per round."""

    case: Case
    per_round_ns: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    @property
    def median_us(self) -> float:
        return statistics.median(self.per_round_ns) / 1000

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None


@dataclass(frozen=True)
class Target:
    """A speed requirement: ``library`` at most ``max_ratio`` times ``than`` in each group.

    ``than`` is :data:`FLOOR` or another library (then ``max_ratio`` < 1 means "faster than").
    """

    library: str
    operation: str
    alg: str
    max_ratio: float
    than: str = FLOOR

    def describe(self) -> str:
        return f"{self.library} {self.operation} {self.alg} ≤ {self.max_ratio:.2f}× {self.than}"


#: The clock: wall time by default; ``time.thread_time_ns`` (CPU time of this thread) leaves
#: out the time other processes ran, at the price of a coarser tick on some systems.
CLOCKS: dict[str, Callable[[], int]] = {"wall": time.perf_counter_ns, "cpu": time.thread_time_ns}
_clock = CLOCKS["wall"]


def use_clock(name: str) -> None:
    """Select the clock by name (a key of :data:`CLOCKS`)."""
    global _clock
    _clock = CLOCKS[name]


def _run_batch(fn: Callable[[], object], n: int) -> int:
    """Run ``fn`` ``n`` times with the collector off; return the elapsed nanoseconds.

    A tenth as many calls run untimed first: the cases before this one left the CPU caches
    full of their own code and data, and steady state is what is being measured.
    """
    gc.disable()
    try:
        for _ in range(max(1, n // 10)):
            fn()
        clock = _clock
        start = clock()
        for _ in range(n):
            fn()
        return clock() - start
    finally:
        gc.enable()


def _batch_size(fn: Callable[[], object], batch_seconds: float) -> int:
    """How many calls take about ``batch_seconds`` (after a short warm-up)."""
    n = 1
    while True:
        elapsed = _run_batch(fn, n)
        if elapsed >= 1_000_000 or n >= 1 << 20:  # at least 1 ms of evidence
            per_call = elapsed / n
            return max(1, int(batch_seconds * 1e9 / per_call))
        n *= 4


def _check_groups(cases: Sequence[Case]) -> dict[tuple[str, str], list[Case]]:
    groups: dict[tuple[str, str], list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(case)
    for group, members in groups.items():
        names = [case.library for case in members]
        if names.count(FLOOR) != 1:
            raise ValueError(f"group {group} needs exactly one {FLOOR!r} case")
        if len(set(names)) != len(names):
            raise ValueError(f"group {group} lists a library twice")
    return groups


def measure(
    cases: Sequence[Case],
    *,
    rounds: int = 9,
    repeats: int = 7,
    batch_seconds: float = 0.001,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[Result]:
    """Time every case; return results in the order of ``cases``."""
    groups = _check_groups(cases)
    for case in cases:
        case.fn()  # Fail fast, before minutes of timing, if a case is broken.
    sizes = {id(case): _batch_size(case.fn, batch_seconds) for case in cases}
    results = {id(case): Result(case) for case in cases}
    shuffle = random.Random(seed).shuffle
    for number in range(rounds):
        if progress is not None:
            progress(f"round {number + 1}/{rounds}")
        gc.collect()
        for members in groups.values():
            fastest = {id(case): float("inf") for case in members}
            for _ in range(repeats):
                order = list(members)
                shuffle(order)
                for case in order:
                    n = sizes[id(case)]
                    fastest[id(case)] = min(fastest[id(case)], _run_batch(case.fn, n) / n)
            for case in members:
                results[id(case)].per_round_ns.append(fastest[id(case)])
    for members in groups.values():
        floor = next(results[id(case)] for case in members if case.library == FLOOR)
        for case in members:
            result = results[id(case)]
            result.ratios = [
                mine / base
                for mine, base in zip(result.per_round_ns, floor.per_round_ns, strict=True)
            ]
    return [results[id(case)] for case in cases]


def _paired_ratio(results: Sequence[Result], target: Target) -> float | None:
    """Median over rounds of target.library / target.than in the target's group."""
    group = (target.operation, target.alg)
    by_library = {r.case.library: r for r in results if r.case.group == group}
    mine, base = by_library.get(target.library), by_library.get(target.than)
    if mine is None or base is None:
        return None
    pairs = zip(mine.per_round_ns, base.per_round_ns, strict=True)
    return statistics.median(a / b for a, b in pairs)


def check_targets(
    results: Sequence[Result], targets: Iterable[Target]
) -> list[tuple[Target, float | None, bool]]:
    """Each target with its measured ratio and whether it is met (a missing case fails)."""
    checked = []
    for target in targets:
        ratio = _paired_ratio(results, target)
        checked.append((target, ratio, ratio is not None and ratio <= target.max_ratio))
    return checked


def render_table(results: Sequence[Result]) -> str:
    """A Markdown table: one row per (operation, alg), one column per library.

    Each cell is ``µs (ratio×)`` with the ratio to the floor of the same row; ``—`` where a
    library does not support the algorithm.
    """
    libraries: list[str] = [FLOOR]
    rows: dict[tuple[str, str], dict[str, Result]] = {}
    for result in results:
        if result.case.library not in libraries:
            libraries.append(result.case.library)
        rows.setdefault(result.case.group, {})[result.case.library] = result
    header = ["operation", "alg", *libraries]
    lines = [_row(header), _row(["---"] * 2 + ["---:"] * len(libraries))]
    for (operation, alg), cells in rows.items():
        row = [operation, alg]
        for library in libraries:
            result = cells.get(library)
            if result is None:
                row.append("—")
            elif library == FLOOR:
                row.append(f"{result.median_us:.1f}")
            else:
                row.append(f"{result.median_us:.1f} ({result.ratio:.2f}×)")
        lines.append(_row(row))
    return "\n".join(lines)


def render_targets(checked: Sequence[tuple[Target, float | None, bool]]) -> str:
    """One line per target: met or missed, with the measured ratio."""
    lines = []
    for target, ratio, ok in checked:
        measured = "not measured" if ratio is None else f"{ratio:.2f}×"
        lines.append(f"- [{'x' if ok else ' '}] {target.describe()}: {measured}")
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
