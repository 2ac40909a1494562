"""Benchmark of the authority: token issuance and JWKS against a bare endpoint on the same
stack (FastAPI + uvicorn, one worker, no access log on either), plus the wall time of a
cached `jot token`.

The load generator is a raw keep-alive HTTP/1.1 client in a separate process. On a shared
machine throughput moves with other jobs' load, so the endpoints are loaded in interleaved
rounds (the ratio is the median of per-round ratios), and the server processes' CPU time
per request is measured too (from /proc: it does not depend on how busy the machine is).

Usage: ``.venv/bin/python bench/authority.py [--seconds 5] [--connections 32] [--rounds 3]``.
It starts every server itself on free loopback ports (SQLite in a temporary directory) and
loads them from a separate process, then prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

HELLO_APP = """
import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""

JOT = [sys.executable, "-c", "from jot.cli.entry import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def _request_bytes(
    method: str, url: str, body: dict | None, headers: dict
) -> tuple[str, int, bytes]:
    parsed = urlsplit(url)
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {parsed.path} HTTP/1.1", f"Host: {parsed.netloc}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    return parsed.hostname or "127.0.0.1", parsed.port or 80, raw


async def _connection(
    host: str, port: int, raw: bytes, stop: float, latencies: list[float]
) -> None:
    """One keep-alive connection sending requests back to back (a raw HTTP/1.1 client: an
    httpx-based generator would measure itself rather than the server)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop:
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


async def _load(
    method: str, url: str, body: dict | None, headers: dict, seconds: float, connections: int
) -> list[float]:
    host, port, raw = _request_bytes(method, url, body, headers)
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    await asyncio.gather(
        *(_connection(host, port, raw, stop, latencies) for _ in range(connections))
    )
    return latencies


def load_in_child(spec: dict) -> dict:
    """Run the load generator in its own process, so it does not share a core budget with
    the parent (the servers are separate processes too)."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"load generator failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def summarise(latencies: list[float], seconds: float) -> dict:
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "rps": len(ordered) / seconds,
        "p50": ordered[len(ordered) // 2] * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(specs: dict[str, tuple[int, dict]], rounds: int) -> dict[str, dict]:
    """Load each endpoint in turn, ``rounds`` times; per endpoint: overall rps, median p50
    and p99 of the rounds, server CPU µs per request, and each round's rps."""
    out: dict[str, dict] = {
        name: {"count": 0, "seconds": 0.0, "cpu": 0.0, "p50": [], "p99": [], "rounds": []}
        for name in specs
    }
    for _ in range(rounds):
        for name, (pid, spec) in specs.items():
            before = cpu_seconds(pid)
            row = load_in_child(spec)
            entry = out[name]
            entry["cpu"] += cpu_seconds(pid) - before
            entry["count"] += row["count"]
            entry["seconds"] += spec["seconds"]
            entry["p50"].append(row["p50"])
            entry["p99"].append(row["p99"])
            entry["rounds"].append(row["rps"])
    return {
        name: {
            "rps": entry["count"] / entry["seconds"],
            "p50": statistics.median(entry["p50"]),
            "p99": statistics.median(entry["p99"]),
            "cpu_us": entry["cpu"] / max(entry["count"], 1) * 1e6,
            "rounds": entry["rounds"],
        }
        for name, entry in out.items()
    }


def cached_token_time(env: dict[str, str], runs: int = 21) -> tuple[float, float]:
    def median(args: list[str]) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(args, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    return median([*JOT, "token", "--for", "bench"]), median([sys.executable, "-c", "pass"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per endpoint")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        latencies = asyncio.run(
            _load(
                spec["method"],
                spec["url"],
                spec["body"],
                spec["headers"],
                spec["seconds"],
                spec["connections"],
            )
        )
        print(json.dumps(summarise(latencies, spec["seconds"])))
        return

    work = Path(tempfile.mkdtemp(prefix="jot-bench-"))
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    # Installed packages have bytecode; measure with it (the first run writes what is missing).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    jot_port, hello_port = free_port(), free_port()
    jot_url, hello_url = f"http://127.0.0.1:{jot_port}", f"http://127.0.0.1:{hello_port}"
    log = (work / "server.log").open("w")
    processes = [
        subprocess.Popen(
            [*JOT, "server", "--data-dir", str(work / "data"), "--listen", f"127.0.0.1:{jot_port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        ),
        subprocess.Popen(
            [sys.executable, "-c", HELLO_APP.replace("{port}", str(hello_port))], env=env
        ),
    ]
    try:
        wait_up(f"{jot_url}/healthz")
        wait_up(f"{hello_url}/hello")
        # The server's output is no terminal: the bootstrap key is in a 0600 file.
        key = (work / "data" / "admin.key").read_text().strip()
        auth = {"Authorization": f"Bearer {key}"}
        httpx.post(
            f"{jot_url}/api/destinations", json={"name": "bench"}, headers=auth
        ).raise_for_status()
        httpx.post(
            f"{jot_url}/api/grants",
            json={"subject": "user:admin", "role": "r", "resource": "bench"},
            headers=auth,
        ).raise_for_status()
        # The cached `jot token` first, while nothing else of this run loads the machine.
        subprocess.run(
            [*JOT, "login", jot_url, "--key-stdin"],
            input=key + "\n",
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run([*JOT, "token", "--for", "bench"], env=env, check=True, capture_output=True)
        cached, bare_python = cached_token_time(env)
        common = {"seconds": args.seconds, "connections": args.connections}
        jot_pid, hello_pid = processes[0].pid, processes[1].pid
        specs = {
            "bare GET /hello": (
                hello_pid,
                {"method": "GET", "url": f"{hello_url}/hello", "body": None, "headers": {}},
            ),
            "POST /api/tokens": (
                jot_pid,
                {
                    "method": "POST",
                    "url": f"{jot_url}/api/tokens",
                    "body": {"destination": "bench"},
                    "headers": auth,
                },
            ),
            "GET /.well-known/jwks.json": (
                jot_pid,
                {
                    "method": "GET",
                    "url": f"{jot_url}/.well-known/jwks.json",
                    "body": None,
                    "headers": {},
                },
            ),
        }
        rows = measure(
            {name: (pid, {**spec, **common}) for name, (pid, spec) in specs.items()}, args.rounds
        )
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
    bare = rows["bare GET /hello"]
    head = f"{'endpoint':<28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8}"
    print(f"{head} {'CPU µs/req':>11} {'CPU vs bare':>12}")
    for name, row in rows.items():
        # Median of the per-round ratios: each round loads both within seconds of each other.
        ratio = statistics.median(
            mine / theirs for mine, theirs in zip(row["rounds"], bare["rounds"], strict=True)
        )
        cpu_ratio = bare["cpu_us"] / row["cpu_us"] if row["cpu_us"] else 0.0
        print(
            f"{name:<28} {row['rps']:>8.0f} {row['p50']:>8.1f} {row['p99']:>8.1f} {ratio:>7.2f}x"
            f" {row['cpu_us']:>11.0f} {cpu_ratio:>11.2f}x"
        )
    print(f"\ncached `jot token`: {cached:.0f} ms median (python -c pass: {bare_python:.0f} ms)")
    setup = f"{args.connections} connections, {args.rounds} rounds of {args.seconds:g} s each"
    print(f"({setup}, one worker, SQLite, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
