"""Real processes and servers for the OIDC tests: the mock provider (a subprocess on a free
loopback port) and the authority (uvicorn on a free loopback port, in a thread)."""

from __future__ import annotations

import html
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from jot.authority.app import create_app, open_authority
from jot.authority.settings import Settings
from jot.authority.state import Authority

HERE = Path(__file__).parent


@dataclass
class MockIdP:
    issuer: str
    process: subprocess.Popen[str]

    def set_user(self, sub: str, **claims: Any) -> None:
        response = httpx.put(f"{self.issuer}/users/{sub}", json=claims, timeout=5)
        response.raise_for_status()

    def revoke(self, sub: str) -> None:
        httpx.post(f"{self.issuer}/users/{sub}/revoke-tokens", timeout=5).raise_for_status()


@contextmanager
def mock_idp() -> Iterator[MockIdP]:
    env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        [sys.executable, str(HERE / "mock_idp.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # Bounded: the process prints it or exits.
        if not line.startswith("PORT "):
            raise RuntimeError(f"the mock provider did not start: {line!r}")
        yield MockIdP(f"http://127.0.0.1:{int(line.split()[1])}", process)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL on a fresh private schema (dropped afterwards); fails without one."""
    base = os.environ.get("JOT_TEST_POSTGRES_URL")
    if not base:
        pytest.fail("JOT_TEST_POSTGRES_URL is not set: run the suite with `make test`")
    schema = f"jot_oidc_{secrets.token_hex(6)}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@dataclass
class Running:
    url: str
    authority: Authority
    admin_key: str

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.admin_key}"}, timeout=10
        )


_CSRF = re.compile(r"name='csrf_token' value='([^']+)'")


def confirm_device(browser: httpx.Client, server_url: str, user_code: str) -> httpx.Response:
    """What a person does: open the device page, type the code, press Continue (the form's
    CSRF token and cookie come from the page)."""
    page = browser.get(f"{server_url}/oidc/device")
    token = _CSRF.search(page.text)
    assert token is not None, page.text
    form = {"user_code": user_code, "csrf_token": html.unescape(token.group(1))}
    return browser.post(f"{server_url}/oidc/device", data=form)


@contextmanager
def serve(app: Any, sock: socket.socket) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def authority(data_dir: Path, **settings: Any) -> Iterator[Running]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    config = Settings(data_dir=data_dir, listen=f"127.0.0.1:{port}", issuer=url, **settings)
    started = open_authority(config)
    if started.bootstrap_key is None:
        raise RuntimeError("no bootstrap key on a fresh data directory")
    app = create_app(authority=started.authority)
    try:
        with serve(app, sock):
            yield Running(url, started.authority, started.bootstrap_key)
    finally:
        started.authority.close()  # Both pools: the requests' and the keyring's.
        sock.close()
