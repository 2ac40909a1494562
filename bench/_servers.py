"""The servers of bench/authority.py: a bare FastAPI hello, `jot server`, a PostgreSQL
database of its own, and the cached `jot token` timing."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

__all__ = ["Server", "cached_token_time", "environment", "hello", "jot", "postgres_database"]

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


@dataclass
class Server:
    host: str
    pid: int
    data_dir: Path | None = None
    database_url: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def admin_key(self) -> str:
        assert self.data_dir is not None
        # The server's output is no terminal: the bootstrap key is in a 0600 file.
        return (self.data_dir / "admin.key").read_text().strip()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its worker processes so far (/proc)."""
        return sum(_cpu(pid) for pid in _tree(self.pid))


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += parents.get(current, [])
    return found


def environment(work: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    # Installed packages have bytecode; measure with it (the first run writes what is missing).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in ("JOT_DATABASE_URL", "JOT_REDIS_URL", "JOT_WORKERS"):
        env.pop(name, None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300  # Workers import everything: slow on a busy machine.
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


@contextlib.contextmanager
def _running(args: list[str], env: dict[str, str], log: Path, probe: str) -> Iterator[int]:
    with log.open("a") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_up(probe, process)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def hello(work: Path) -> Iterator[Server]:
    port = free_port()
    code = HELLO_APP.replace("{port}", str(port))
    probe = f"http://127.0.0.1:{port}/hello"
    with _running(
        [sys.executable, "-c", code], os.environ.copy(), work / "hello.log", probe
    ) as pid:
        yield Server(f"127.0.0.1:{port}", pid)


@contextlib.contextmanager
def jot(data_dir: Path, env: dict[str, str], *, workers: int = 1) -> Iterator[Server]:
    """``jot server`` on ``data_dir`` (SQLite there unless ``env`` names a database)."""
    port = free_port()
    args = [*JOT, "server", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"]
    if workers > 1:
        args += ["--workers", str(workers)]
    url = env.get("JOT_DATABASE_URL") or f"sqlite:///{data_dir}/jot.db"
    log = data_dir.parent / f"{data_dir.name}-{port}.log"
    with _running(args, env, log, f"http://127.0.0.1:{port}/healthz") as pid:
        yield Server(f"127.0.0.1:{port}", pid, data_dir, url)


@contextlib.contextmanager
def postgres_database(base: str) -> Iterator[str]:
    """A fresh database on the server of ``base`` (a SQLAlchemy URL), dropped afterwards."""
    name = f"jot_bench_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as db:
            db.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as db:
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cached_token_time(server: Server, env: dict[str, str], runs: int = 21) -> tuple[float, float]:
    """Median wall time of a cached `jot token`, and of `python -c pass` (ms)."""
    key = server.admin_key
    subprocess.run(
        [*JOT, "login", server.url, "--key-stdin"],
        input=key + "\n", text=True, env=env, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run([*JOT, "token", "--for", "bench"], env=env, check=True, capture_output=True)

    def median(args: list[str]) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(args, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    return median([*JOT, "token", "--for", "bench"]), median([sys.executable, "-c", "pass"])
