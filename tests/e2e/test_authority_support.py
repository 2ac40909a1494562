"""Support for the authority e2e tests (no tests here): a real `jot server` process on a free
loopback port, and the real `jot` CLI."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

JOT = [sys.executable, "-c", "from jot.cli.entry import main; main()"]
KEY_RE = re.compile(r"jot_ak_[A-Za-z0-9]{12}_[A-Za-z0-9]{32}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    data_dir: Path

    def admin_key(self) -> str:
        """The bootstrap key: the server's output is no terminal, so it is in a file."""
        assert KEY_RE.search(self.log.read_text()) is None, "a key in the server's output"
        path = self.data_dir / "admin.key"
        if not path.exists():
            raise AssertionError(f"no {path}; the server said:\n{self.log.read_text()}")
        return path.read_text().strip()


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"server not ready after {timeout}s:\n{log.read_text()}")


@contextlib.contextmanager
def run_server(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[Server]:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir.parent / f"server-{port}.log"
    full_env = {**os.environ, **(env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*JOT, "server", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
        )
    try:
        wait_ready(url, process, log)
        yield Server(url, process, log, data_dir)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def cli(
    home: Path, *args: str, stdin: str = "", check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `jot ARGS` with its own config and cache directories under ``home``."""
    full_env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        **(env or {}),
    }
    full_env.pop("JOT_ACCESS_KEY", None)
    result = subprocess.run(
        [*JOT, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        start_new_session=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"jot {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result
