"""`bench/destination.py` in a tiny smoke run, so that the benchmark cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "destination.py"


def test_bench_smoke_run():
    args = ["--duration", "0.4", "--rounds", "1", "--warmup", "0.1", "--connections", "4"]
    result = subprocess.run(
        [sys.executable, str(BENCH), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for scenario in (
        "forward-auth cached",
        "forward-auth uncached",
        "bare hello",
        "starlette+pyjwt",
    ):
        assert scenario in result.stdout
    assert "cached / bare" in result.stdout
