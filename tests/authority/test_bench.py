"""`bench/authority.py` in a tiny smoke run, so that the benchmark cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "authority.py"
ROWS = [
    "tokens, same key",
    "tokens, cache miss",
    "sweep: 50,000 grants",
    "sweep: 50,000 grants, half time-bound",
    "sweep: 200 groups",
]


def test_bench_smoke_run() -> None:
    args = ["--seconds", "0.3", "--rounds", "1", "--connections", "2", "--users", "30"]
    result = subprocess.run(
        [sys.executable, str(BENCH), *args, "--rows", ";".join(ROWS)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for row in ["bare GET /hello", *ROWS]:
        assert f"| {row} |" in result.stdout
    assert "50,000 grants within 1.2× of 10 (CPU)" in result.stdout
    assert "✗ 2 workers ≥ 1.6× one worker, or the machine saturated" in result.stdout
    assert "CPU per request: not measured" in result.stdout
    assert "| client µs/req | busy |" in result.stdout
    assert "cached `jot token`" in result.stdout
