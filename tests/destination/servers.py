"""Real servers for end-to-end tests: in-thread uvicorn apps and `jot connector` processes,
all on free loopback ports (bound to port 0), all stopped at the end."""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

JOT = str(Path(sys.executable).with_name("jot"))


@contextlib.contextmanager
def serve_in_thread(app: Any, *, lifespan: str = "off", **ssl: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False, **ssl)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("in-thread server did not start")
        time.sleep(0.01)
    try:
        scheme = "https" if ssl else "http"
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@contextlib.contextmanager
def jot_process(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``jot ARGS`` until it prints ``listening on URL``; yields the URL."""
    # stderr goes to a file: a pipe nobody reads could fill up and stall the server.
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [JOT, *args], stdout=subprocess.PIPE, stderr=stderr,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        try:
            yield _listening(process, stderr)
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _listening(process: subprocess.Popen[bytes], stderr: Any, timeout: float = 20.0) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buffer = b""
    while time.monotonic() < deadline:
        if selector.select(timeout=0.2):
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            for line in buffer.decode(errors="replace").splitlines():
                if line.startswith("listening on "):
                    return line.removeprefix("listening on ").strip()
        elif process.poll() is not None:
            break
    stop(process)
    stderr.seek(0)
    raise RuntimeError(f"jot did not start: {stderr.read().decode(errors='replace')[-2000:]}")


def free_port() -> int:
    """For programs that cannot report the port they bound (nginx): bind 0, close, reuse."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")
