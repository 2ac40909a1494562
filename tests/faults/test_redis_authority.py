"""Issue 13 item 1, the authority's part: `jot server` with rate limits in a Redis of the
test's own, which is killed and restarted empty.

- While Redis is down, valid keys get their tokens on the same keep-alive connection (no
  500, no dropped connection) and /readyz says so (``"redis": "unavailable"``).
- A lockout outlives Redis restarting empty, and the authority restarting too: the
  database is its source, Redis a cache refilled from it.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_authority_support import free_port, run_server

from .procs import own_redis

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

BAD_KEY = "jot_ak_" + "A" * 12 + "_" + "b" * 32


def _two_requests_on_one_connection(url: str, key: str) -> list[bytes]:
    """Two token requests on one socket: both must be answered on it."""
    port = int(url.rsplit(":", 1)[1])
    body = b'{"destination":"jot"}'
    request = (
        b"POST /api/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    heads = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(request)
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                assert chunk, "the connection was dropped"
                answer += chunk
            head, _, rest = answer.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            while len(rest) < length:
                rest += sock.recv(65536)
            heads.append(head.split(b"\r\n")[0])
    return heads


def _lock_out(http: httpx.Client) -> None:
    statuses = [
        http.post(
            "/api/tokens",
            json={"destination": "jot"},
            headers={"Authorization": f"Bearer {BAD_KEY}"},
        ).status_code
        for _ in range(12)
    ]
    assert statuses[-1] == 429, statuses


def _locked(http: httpx.Client) -> bool:
    headers = {"Authorization": f"Bearer {BAD_KEY}"}
    return http.post("/api/tokens", json={"destination": "jot"}, headers=headers).status_code == 429


def test_redis_outages_cost_nothing_and_lockouts_outlive_restarts(tmp_path: Path) -> None:
    with own_redis(tmp_path / "redis") as redis_server:
        data, port = tmp_path / "data", free_port()
        env = {"JOT_REDIS_URL": redis_server.url, "JOT_LOCKOUT_BASE": "120"}
        with run_server(data, env=env, port=port) as server:
            key = server.admin_key()
            with httpx.Client(base_url=server.url, timeout=10) as http:
                assert http.get("/readyz").json()["redis"] == "ok"
                _lock_out(http)
                redis_server.stop()
                assert http.get("/readyz").json()["redis"] == "unavailable"
                assert (
                    _two_requests_on_one_connection(server.url, key)
                    == [b"HTTP/1.1 201 Created"] * 2
                )
                assert _locked(http)  # This process's own count holds meanwhile.
                redis_server.start()  # Empty.
                time.sleep(1)
                assert _locked(http)
        # The authority restarts too: its memory and Redis are empty; the database is not.
        redis_server.stop()
        redis_server.start()
        with (
            run_server(data, env=env, port=port) as server,
            httpx.Client(base_url=server.url, timeout=10) as http,
        ):
            assert _locked(http)
            assert http.get("/readyz").json()["redis"] == "ok"
            log = server.log.read_text()
    assert "Traceback" not in log
