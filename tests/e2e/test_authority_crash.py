"""Crash safety: SIGKILL under write load loses no acknowledged write; SIGTERM lets
in-flight requests finish."""

from __future__ import annotations

import base64
import json
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from .test_authority_support import free_port, run_server

pytestmark = pytest.mark.e2e


def _writer(
    url: str, key: str, prefix: str, acknowledged: list[str], stop: threading.Event
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=5) as http:
        for n in range(10_000):
            if stop.is_set():
                return
            name = f"{prefix}-{n}"
            try:
                response = http.post("/api/groups", json={"name": name})
            except httpx.HTTPError:
                return
            if response.status_code == 201:
                acknowledged.append(name)


def _issuer(url: str, key: str, issued: list[str], stop: threading.Event) -> None:
    """Tokens: from the second one on, their audit rows go through the group commit."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=5) as http:
        while not stop.is_set():
            try:
                response = http.post("/api/tokens", json={"destination": "jot"})
            except httpx.HTTPError:
                return
            if response.status_code == 201:
                claims = response.json()["token"].split(".")[1]
                issued.append(json.loads(base64.urlsafe_b64decode(claims + "=="))["jti"])


def test_sigkill_under_write_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    acknowledged: list[str] = []
    issued: list[str] = []
    stop = threading.Event()
    with run_server(data, port=port) as server:
        key = server.admin_key()
        writers = [
            threading.Thread(target=_writer, args=(server.url, key, f"w{i}", acknowledged, stop))
            for i in range(4)
        ] + [
            threading.Thread(target=_issuer, args=(server.url, key, issued, stop)) for _ in range(4)
        ]
        for thread in writers:
            thread.start()
        deadline = time.monotonic() + 10
        while (len(acknowledged) < 40 or len(issued) < 100) and time.monotonic() < deadline:
            time.sleep(0.05)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        stop.set()
        for thread in writers:
            thread.join(timeout=10)
    assert len(acknowledged) >= 40
    assert len(issued) >= 100
    with sqlite3.connect(data / "jot.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT detail FROM audit WHERE kind = 'token.issued'").fetchall()
    audited = {json.loads(detail)["jti"] for (detail,) in rows}
    assert set(issued) <= audited  # Every token handed out was audited first.
    with run_server(data, port=port) as server:
        response = httpx.get(f"{server.url}/api/groups", headers={"Authorization": f"Bearer {key}"})
        stored = {group["name"] for group in response.json()["items"]}
    missing = set(acknowledged) - stored
    assert not missing


def test_sigterm_finishes_in_flight_requests(tmp_path: Path) -> None:
    with run_server(tmp_path / "data") as server:
        headers = {"Authorization": f"Bearer {server.admin_key()}"}
        etag = httpx.get(f"{server.url}/api/grants", headers=headers).headers["etag"]
        result: list[int] = []

        def long_poll() -> None:
            response = httpx.get(
                f"{server.url}/api/grants",
                params={"wait": 2},
                headers={**headers, "If-None-Match": etag},
                timeout=20,
            )
            result.append(response.status_code)

        thread = threading.Thread(target=long_poll)
        thread.start()
        time.sleep(0.7)
        server.process.send_signal(signal.SIGTERM)
        thread.join(timeout=20)
        # uvicorn re-raises SIGTERM after its graceful shutdown, as a well-behaved process does.
        assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)
    assert result == [304]
