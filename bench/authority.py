"""Benchmark of the authority: token issuance in real use, against a bare endpoint on the same
stack (FastAPI + uvicorn, no access log on either), plus the wall time of a cached `jot token`.

Rows (each a kind of load on a real ``jot server``, started here on free loopback ports):

* ``tokens, same key``: one access key asking again and again (the caches answer);
* ``tokens, cache miss``: N users' keys round-robin, N large enough that no key repeats within
  the caches' life (1 s): every request checks a key and decides in the database;
* ``tokens, same key, 2 workers``: ``jot server --workers 2``;
* ``PostgreSQL`` rows: a database of its own, made from ``JOT_TEST_POSTGRES_URL`` and dropped
  after; with the Redis limiter (``JOT_TEST_REDIS_URL``) on a second server of that database;
* ``sweep`` rows (cache misses, group narrowing on): destinations with 10, 1,000 and 50,000
  grants (and 50,000 of which half are time-bound), and 3,000 users in 200 of 2,000 groups, among
  5,000 destinations;
* ``JWKS``.

The load generator is a raw keep-alive HTTP/1.1 client in a separate process. On a shared
machine throughput moves with other jobs' load, so the rows are loaded in interleaved rounds
(a ratio is the median of per-round ratios) and the server processes' CPU time per request is
read from /proc too (it depends much less on the machine's load). Targets (issue 14) are
printed with ✓/✗; ``--check`` exits 1 on a miss or on a target that could not be measured.

Usage: ``.venv/bin/python bench/authority.py [--seconds 5] [--rounds 3] [--check]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import _directory
import _servers

#: Users per pool of the miss rows: at the rates of this machine, a key comes back after
#: several seconds, long after its cache entries (1 s) expired.
USERS = 3_000
#: The row of issue 19's condition: the decision cost must not grow with others' grants.
HALF_TIME_BOUND = "sweep: 50,000 grants, half time-bound"


@dataclass
class Row:
    name: str
    server: str
    method: str = "POST"
    path: str = "/api/tokens"
    destination: str | None = "bench"
    keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """``row`` against ``base``: ``rps`` ratio at least ``at_least``, or ``cpu`` ratio at most
    ``at_most``."""

    label: str
    row: str
    base: str
    kind: str  # "rps", "cpu" or "workers" (see the 2-worker target)
    bound: float


TARGETS = [
    Target("same key ≥ 0.4× bare", "tokens, same key", "bare GET /hello", "rps", 0.4),
    Target("cache miss ≥ 0.15× bare", "tokens, cache miss", "bare GET /hello", "rps", 0.15),
    # Throughput, or, when the machine is the limit, no stall: the load generator shares the
    # 2 cores with the workers (docs/benchmarks.md), so 1.6× is out of reach once server and
    # client together use every core; then the row must keep the machine busy (≥ 90 %) at
    # about one worker's CPU per request (a stalling worker leaves cores idle).
    Target(
        "2 workers ≥ 1.6× one worker, or the machine saturated at ≤ 1.15× its CPU per request",
        "tokens, same key, 2 workers",
        "tokens, same key",
        "workers",
        1.6,
    ),
    # CPU, not throughput: a valid key never reaches the limiter, so the two servers do the
    # same work, and on a busy machine their throughputs differ by the neighbours' load.
    Target(
        "Redis limiter within 1.2× of in-memory (CPU)",
        "PostgreSQL + Redis, same key",
        "PostgreSQL, same key",
        "cpu",
        1.2,
    ),
    Target(
        "50,000 grants within 1.2× of 10 (CPU)",
        "sweep: 50,000 grants",
        "sweep: 10 grants",
        "cpu",
        1.2,
    ),
    Target(
        "50,000 grants, half time-bound, within 1.2× of 10 (CPU)",
        HALF_TIME_BOUND,
        "sweep: 10 grants",
        "cpu",
        1.2,
    ),
    Target(
        "200 groups ≤ 1.5× of 1 (CPU)",
        "sweep: 200 groups",
        "sweep: 10 grants",
        "cpu",
        1.5,
    ),
    Target("JWKS ≥ 0.8× bare", "GET /.well-known/jwks.json", "bare GET /hello", "rps", 0.8),
]


# The load generator (a child process: it must not share the parent's core budget).


def _request(row: dict, key: str | None) -> bytes:
    lines = [f"{row['method']} {row['path']} HTTP/1.1", f"Host: {row['host']}"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    payload = b""
    if row["destination"] is not None:
        payload = json.dumps({"destination": row["destination"]}).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _connection(
    host: str, port: int, raws: list[bytes], stop: float, latencies: list[float]
) -> None:
    """One keep-alive connection sending requests back to back, cycling through ``raws`` (a
    raw client: an httpx-based generator would measure itself rather than the server)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for raw in itertools.cycle(raws):
            if time.perf_counter() >= stop:
                break
            start = time.perf_counter()
            writer.write(raw)
            await writer.drain()
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if not status.split()[1].startswith(b"2"):
                raise SystemExit(f"HTTP error: {status!r}")
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()


async def _load(spec: dict) -> list[float]:
    host, _, port = spec["host"].partition(":")
    keys = spec["keys"] or [None]
    raws = [_request(spec, key) for key in keys]
    conns = spec["connections"]
    latencies: list[float] = []
    stop = time.perf_counter() + spec["seconds"]
    # Connection i takes keys i, i + conns, …: together they go round the whole pool.
    shares = [raws[i::conns] or raws for i in range(conns)]
    await asyncio.gather(*(_connection(host, int(port), s, stop, latencies) for s in shares))
    return latencies


def child(spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    started = time.process_time()
    latencies = sorted(asyncio.run(_load(spec)))
    count = len(latencies)
    print(
        json.dumps(
            {
                "count": count,
                "p50": latencies[count // 2] * 1000,
                "p99": latencies[min(count - 1, int(count * 0.99))] * 1000,
                "client_cpu": time.process_time() - started,
            }
        )
    )


def load_in_child(spec: dict, work: Path) -> dict:
    spec_file = work / "spec.json"
    spec_file.write_text(json.dumps(spec))
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(spec_file)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"load generator failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


# Measurement.


def measure(
    rows: list[Row], servers: dict[str, _servers.Server], args: argparse.Namespace, work: Path
) -> dict[str, dict]:
    """Load each row in turn, ``rounds`` times; per row: rps and CPU µs per request of each
    round, and the median p50/p99."""
    keys = ("rps", "cpu", "client", "busy", "p50", "p99")
    out: dict[str, dict] = {row.name: {key: [] for key in keys} for row in rows}
    for _ in range(args.rounds):
        for row in rows:
            server = servers[row.server]
            spec = {
                "host": server.host, "method": row.method, "path": row.path,
                "destination": row.destination, "keys": row.keys,
                "seconds": args.seconds, "connections": args.connections,
            }  # fmt: skip
            before, machine = server.cpu_seconds(), _machine_times()
            result = load_in_child(spec, work)
            cpu = server.cpu_seconds() - before
            now = _machine_times()
            busy, idle = now[0] - machine[0], now[1] - machine[1]
            count = max(result["count"], 1)
            entry = out[row.name]
            entry["rps"].append(result["count"] / args.seconds)
            entry["cpu"].append(cpu / count * 1e6)
            entry["client"].append(result["client_cpu"] / count * 1e6)
            entry["busy"].append(busy / max(busy + idle, 1))
            entry["p50"].append(result["p50"])
            entry["p99"].append(result["p99"])
    return out


def _machine_times() -> tuple[int, int]:
    """The machine's busy and idle time so far, all cores, in clock ticks (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields[:8]) - idle, idle


def ratio(results: dict[str, dict], row: str, base: str, kind: str) -> float:
    """Median over rounds of row ÷ base (throughput, or CPU per request)."""
    mine, theirs = results[row][kind], results[base][kind]
    return statistics.median(a / b for a, b in zip(mine, theirs, strict=True) if b)


def report(results: dict[str, dict], missing: list[str]) -> int:
    """Print the table and the targets; the number of targets missed or not measured."""
    bare = "bare GET /hello"
    print("| row | req/s | p50 ms | p99 ms | vs bare | CPU µs/req | client µs/req | busy |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, entry in results.items():
        print(
            f"| {name} | {statistics.median(entry['rps']):,.0f} | "
            f"{statistics.median(entry['p50']):.1f} | {statistics.median(entry['p99']):.1f} | "
            f"{ratio(results, name, bare, 'rps'):.2f}× | {statistics.median(entry['cpu']):,.0f} | "
            f"{statistics.median(entry['client']):,.0f} | {statistics.median(entry['busy']):.0%} |"
        )
    for name in missing:
        print(f"| {name} | not run | | | | | | |")
    print()
    missed = 0
    for target in TARGETS:
        if target.row not in results or target.base not in results:
            print(f"- ✗ {target.label}: not measured")
            missed += 1
            continue
        if target.kind == "workers":
            ok, shown = _workers(results, target)
        else:
            value = ratio(results, target.row, target.base, target.kind)
            ok = value >= target.bound if target.kind == "rps" else value <= target.bound
            shown = f"{value:.2f}× (throughput)" if target.kind == "rps" else f"{value:.2f}× (CPU)"
        missed += not ok
        print(f"- {'✓' if ok else '✗'} {target.label}: {shown}")
    return missed


def _workers(results: dict[str, dict], target: Target) -> tuple[bool, str]:
    """The 2-worker target: throughput, or a saturated machine without stalls."""
    rps = ratio(results, target.row, target.base, "rps")
    cpu = ratio(results, target.row, target.base, "cpu")
    busy = statistics.median(results[target.row]["busy"])
    ok = rps >= target.bound or (busy >= 0.9 and cpu <= 1.15)
    return ok, f"{rps:.2f}× (throughput); machine {busy:.0%} busy, {cpu:.2f}× CPU per request"


# The servers and the rows.


@contextlib.contextmanager
def started(args: argparse.Namespace, work: Path) -> Iterator[tuple[dict, list[Row], list[str]]]:
    wanted = set(args.rows.split(";")) if args.rows else None
    servers: dict[str, _servers.Server] = {}
    rows: list[Row] = []
    missing: list[str] = []
    with contextlib.ExitStack() as stack:
        servers["hello"] = stack.enter_context(_servers.hello(work))
        sqlite = stack.enter_context(_servers.jot(work / "sqlite", args.env))
        servers["sqlite"] = sqlite
        sweep = wanted is None or any(name.startswith("sweep") for name in wanted)
        # As many users in 200 groups as in one: at this row's rate too, no key comes back
        # within the caches' life (a third as many did, once the row got faster).
        pool = _directory.fill(sqlite.database_url, args.users, wide=args.users if sweep else 0)
        rows += [
            Row("bare GET /hello", "hello", "GET", "/hello", None),
            Row("tokens, same key", "sqlite", keys=[sqlite.admin_key]),
            Row("tokens, cache miss", "sqlite", keys=pool.narrow),
            Row("GET /.well-known/jwks.json", "sqlite", "GET", "/.well-known/jwks.json", None),
            Row("sweep: 10 grants", "sqlite", destination="g10", keys=pool.narrow),
            Row("sweep: 1,000 grants", "sqlite", destination="g1k", keys=pool.narrow),
            Row("sweep: 50,000 grants", "sqlite", destination="g50k", keys=pool.narrow),
            Row(HALF_TIME_BOUND, "sqlite", destination="g50kt", keys=pool.narrow),
            Row("sweep: 200 groups", "sqlite", destination="g10", keys=pool.wide),
        ]
        if wanted is None or "tokens, same key, 2 workers" in wanted:
            two = stack.enter_context(_servers.jot(work / "two", args.env, workers=2))
            _directory.fill(two.database_url, 0)
            servers["two"] = two
            rows.append(Row("tokens, same key, 2 workers", "two", keys=[two.admin_key]))
        postgres = os.environ.get("JOT_TEST_POSTGRES_URL")
        redis = os.environ.get("JOT_TEST_REDIS_URL")
        pg_rows = ["PostgreSQL, same key", "PostgreSQL, cache miss", "PostgreSQL + Redis, same key"]
        if postgres and (wanted is None or wanted & set(pg_rows)):
            url = stack.enter_context(_servers.postgres_database(postgres))
            env = {**args.env, "JOT_DATABASE_URL": url}
            pg = stack.enter_context(_servers.jot(work / "pg", env))
            pg_pool = _directory.fill(url, args.users, wide=0)
            servers["pg"] = pg
            rows += [
                Row("PostgreSQL, same key", "pg", keys=[pg.admin_key]),
                Row("PostgreSQL, cache miss", "pg", keys=pg_pool.narrow),
            ]
            if redis:
                # The same database and data directory (one root key): a second replica.
                env = {**env, "JOT_REDIS_URL": redis}
                servers["pg_redis"] = stack.enter_context(_servers.jot(work / "pg", env))
                rows.append(Row("PostgreSQL + Redis, same key", "pg_redis", keys=[pg.admin_key]))
            else:
                missing.append("PostgreSQL + Redis, same key (set JOT_TEST_REDIS_URL)")
        elif not postgres:
            missing += [f"{name} (set JOT_TEST_POSTGRES_URL)" for name in pg_rows]
        if wanted is not None:
            rows = [row for row in rows if row.name in wanted or row.name == "bare GET /hello"]
        yield servers, rows, missing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per row")
    parser.add_argument("--users", type=int, default=USERS, help="keys per miss pool")
    parser.add_argument("--rows", help="row names separated by ; (default: all)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    # Removed after the run: the directory's database alone is a few hundred megabytes.
    with tempfile.TemporaryDirectory(prefix="jot-bench-") as tmp:
        work = Path(tmp)
        args.env = _servers.environment(work)
        with started(args, work) as (servers, rows, missing):
            cached = _servers.cached_token_time(servers["sqlite"], args.env)
            results = measure(rows, servers, args, work)
    load = os.getloadavg()
    print(f"Load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    missed = report(results, missing)
    token, python = cached
    print(f"\ncached `jot token`: {token:.0f} ms median (python -c pass: {python:.0f} ms)")
    setup = f"{args.connections} connections, {args.rounds} rounds of {args.seconds:g} s each"
    print(f"({setup}, {args.users} keys per miss pool, {os.cpu_count()} CPUs)")
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
