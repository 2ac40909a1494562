"""`bench/destination.py` in a tiny smoke run, so that the benchmark cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "destination.py"
# Every kind of row but the slow 10k/20k rotations (their warm-up sends every token once).
ROWS = [
    "forward-auth cached",
    "forward-auth uncached",
    "bare hello",
    "starlette+pyjwt",
    "cached: 100 tokens",
    "cached: key without kid",
    "nginx static 200",
    "nginx + forward auth",
]


def test_bench_smoke_run():
    args = ["--duration", "0.4", "--rounds", "1", "--warmup", "0.1", "--connections", "4"]
    result = subprocess.run(
        [sys.executable, str(BENCH), *args, "--rows", ",".join(ROWS)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for row in ROWS:
        assert f"| {row} |" in result.stdout
    for target in ("cached ≥ 0.75× bare", "key without kid", "nginx + forward auth ≥ 0.25×"):
        assert target in result.stdout
    assert "RSS growth" in result.stdout
