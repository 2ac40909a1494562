"""Real nginx for ``bench/destination.py``: a static 200, and the shipped example
(``examples/nginx/jot.conf``) in front of ``jot connector forward-auth``."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

EXAMPLE = Path(__file__).parents[1] / "examples" / "nginx" / "jot.conf"
MAIN = """
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 100000000;  # The load generator keeps its connections.
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/site.conf;
}}
"""
# What nginx answers without asking anyone: the ceiling of the nginx rows.
STATIC = """
server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 "ok"; }}
}}
"""


def binary() -> str | None:
    found = shutil.which("nginx")
    if found is None and os.path.exists("/usr/sbin/nginx"):
        found = "/usr/sbin/nginx"
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, process: subprocess.Popen[bytes], prefix: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    log = (prefix / "error.log").read_text(errors="replace")[-500:]
    raise RuntimeError(f"nginx did not start: {log}")


def site(auth_port: int | None, port: int, app_port: int) -> str:
    """The static server, and (given ``auth_port``) the shipped example in front of it."""
    static = STATIC.format(port=app_port)
    if auth_port is None:
        return STATIC.format(port=port)
    conf = EXAMPLE.read_text()
    conf = conf.replace("127.0.0.1:8081", f"127.0.0.1:{auth_port}")
    conf = conf.replace("127.0.0.1:8080", f"127.0.0.1:{app_port}")
    conf = conf.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    return static + conf


@contextlib.contextmanager
def nginx(directory: Path, auth_port: int | None = None) -> Iterator[tuple[int, list[int]]]:
    """nginx (one worker) serving a static 200, or the example with forward auth on
    ``auth_port``; yields its port and the pids whose CPU time it costs."""
    found = binary()
    if found is None:
        raise RuntimeError("nginx is not installed (scripts/install-nginx)")
    prefix = directory / f"nginx-{auth_port or 'static'}"
    (prefix / "tmp").mkdir(parents=True)
    port, app_port = _free_port(), _free_port()
    (prefix / "site.conf").write_text(site(auth_port, port, app_port))
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(MAIN.format(prefix=prefix, user=user))
    process = subprocess.Popen(
        [found, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c",
         str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(port, process, prefix)
        yield port, [process.pid, *_children(process.pid)]
    finally:
        process.terminate()
        process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    """nginx's worker processes (the master forks them; their CPU is the cost)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found
