"""Issue 13 item 4: slow, idle and too many clients, against a real `jot server` and a real
forward-auth connector, each under a descriptor limit of 256 that it cannot raise.

- Connections that send nothing, or a request head one byte at a time, are closed after
  the header timeout; an idle keep-alive connection after the idle timeout.
- More idle connections than the cap: new clients get a quick 503 (never a hang), nobody
  sees "Too many open files", the log stays small, and service resumes once the idle
  connections time out.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jot.jose import jwk
from tests.destination.servers import JOT, free_port, stop

pytestmark = pytest.mark.e2e

FD_LIMIT = 256
HEADER_TIMEOUT = 2.0
IDLE_TIMEOUT = 1


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@contextlib.contextmanager
def _server(kind: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    if kind == "authority":
        args = ["server", "--data-dir", str(tmp_path / "data"), "--listen", f"127.0.0.1:{port}"]
    else:
        jwks, grants = tmp_path / "jwks.json", tmp_path / "grants.toml"
        jwks.write_text(json.dumps({"keys": [jwk.generate("Ed25519").public().to_dict()]}))
        grants.write_text("grants = []\n")
        args = ["connector", "forward-auth", "--name", "web", "--jwks-file", str(jwks),
                "--grants-file", str(grants), "--listen", f"127.0.0.1:{port}"]  # fmt: skip
    env = {
        **os.environ,
        "JOT_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "JOT_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
    }
    log = tmp_path / f"{kind}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [JOT, *args], stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=_limited,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url, log
    finally:
        stop(process)


def _connect(url: str) -> socket.socket:
    port = int(url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` within ``within`` seconds (after the rest of
    any answer)."""
    deadline = time.monotonic() + within
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if sock.recv(4096) == b"":
                return True
    except TimeoutError:
        return False
    except OSError:
        return True
    return False


HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100


@pytest.fixture(autouse=True)
def _enough_descriptors_here() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048 and hard >= 2048:
        resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))


def _hog(url: str, count: int) -> list[socket.socket]:
    hogs = []
    for _ in range(count):
        with contextlib.suppress(OSError):
            hogs.append(_connect(url))
    return hogs


def _silent_slow_and_idle(url: str) -> None:
    silent = [_connect(url) for _ in range(20)]
    slow = [_connect(url) for _ in range(20)]
    started = time.monotonic()
    for n in range(int(HEADER_TIMEOUT / 0.2) + 5):  # One byte of the head at a time.
        for sock in slow:
            with contextlib.suppress(OSError):
                sock.send(HEAD[n : n + 1])
        time.sleep(0.2)
    idle = _connect(url)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.recv(4096).startswith(b"HTTP/1.1 200")
    assert _closed_by_server(idle, IDLE_TIMEOUT + 2)
    idle.close()
    for sock in silent + slow:
        assert _closed_by_server(sock, max(0.1, started + HEADER_TIMEOUT + 3 - time.monotonic()))
        sock.close()


def _over_the_cap(url: str) -> None:
    hogs = _hog(url, FD_LIMIT - 40)  # Over the cap, still under the descriptor limit.
    started = time.monotonic()
    with httpx.Client(timeout=5) as http:
        busy = http.get(url + "/healthz")
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert time.monotonic() - started < 2
    for sock in hogs:
        sock.close()


def _more_than_descriptors(url: str) -> None:
    hogs = _hog(url, FD_LIMIT + 100)
    # A normal client is answered (a 503 while full, then 200) once the idle ones time
    # out, never left hanging.
    deadline = time.monotonic() + HEADER_TIMEOUT + 5
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        assert time.monotonic() < deadline, "locked out"
        time.sleep(0.2)
    for sock in hogs:
        sock.close()


@pytest.mark.parametrize("kind", ["authority", "forward-auth"])
def test_slow_idle_and_too_many_clients(kind: str, tmp_path: Path) -> None:
    with _server(kind, tmp_path) as (url, log):
        _silent_slow_and_idle(url)
        _over_the_cap(url)
        _more_than_descriptors(url)
    # Each of these is logged in a line per interval: no traceback, no flood.
    text = log.read_text()
    assert "Too many open files" not in text
    assert "Traceback" not in text
    assert len(text) < 20_000


def test_a_bad_limit_is_one_line(tmp_path: Path) -> None:
    jwks, grants = tmp_path / "jwks.json", tmp_path / "grants.toml"
    jwks.write_text(json.dumps({"keys": [jwk.generate("Ed25519").public().to_dict()]}))
    grants.write_text("grants = []\n")
    result = subprocess.run(
        [JOT, "connector", "forward-auth", "--name", "web", "--jwks-file", str(jwks),
         "--grants-file", str(grants), "--listen", "127.0.0.1:0"],
        env={**os.environ, "JOT_HEADER_TIMEOUT": "soon"}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "JOT_HEADER_TIMEOUT must be a positive number: 'soon'" in result.stderr
    assert "Traceback" not in result.stderr
