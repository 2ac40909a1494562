"""Issue 13 item 1, the rate limits' part: with Redis down or hung, limits fall back to the
in-process ones (valid credentials get through), each Redis call is bounded by a short
timeout, the warning is logged once per interval, and no request becomes a 500.

Redis is the real one (``JOT_TEST_REDIS_URL``), reached through a relay this test can cut or
freeze; the machine's shared Redis itself is never stopped.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from jot.authority.app import create_app, open_authority
from jot.authority.clock import FakeClock
from jot.authority.ratelimit import (
    FallbackLimiter,
    LimiterPolicy,
    MemoryLimiter,
    RedisLimiter,
)
from jot.authority.settings import Settings

from .conftest import ISSUER, bearer

pytestmark = pytest.mark.redis

PASSWORD = "correct horse"
POLICY = LimiterPolicy(max_failures=3, window=60, base=30.0, cap=60.0)


def _redis_url() -> str:
    url = os.environ.get("JOT_TEST_REDIS_URL")
    if not url:
        pytest.fail("JOT_TEST_REDIS_URL is not set: run the suite with `make test`")
    return url


class Relay:
    """A TCP relay to the real Redis: ``up`` forwards, ``down`` drops every connection,
    ``hung`` accepts connections and never answers."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.mode = "up"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self._listener.getsockname()[1]}{parts.path or '/0'}"
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def set(self, mode: str) -> None:
        self.mode = mode
        for conn in self._open:  # Connections made before the change go too.
            conn.close()
        self._open.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "down":
                client.close()
                continue
            self._open.append(client)
            if self.mode == "up":
                upstream = socket.create_connection(self.target)
                self._open.append(upstream)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                sock.close()

    def close(self) -> None:
        self.set("down")
        self._listener.close()


@pytest.fixture
def relay() -> Iterator[Relay]:
    running = Relay(_redis_url())
    yield running
    running.close()


def _settings(tmp_path: Path, redis_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", issuer=ISSUER, redis_url=redis_url, redis_timeout=0.2
    )


def _hung_socket() -> socket.socket:
    """Accepts connections (the kernel's backlog does) and never answers."""
    return socket.create_server(("127.0.0.1", 0), backlog=64)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
@pytest.mark.parametrize("outage", ["closed port", "unresponsive socket"])
async def test_requests_go_on_when_redis_is_unreachable(
    outage: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hung = _hung_socket()
    port = hung.getsockname()[1] if outage == "unresponsive socket" else _closed_port()
    started = open_authority(_settings(tmp_path, f"redis://127.0.0.1:{port}/0"), clock=FakeClock())
    app = create_app(authority=started.authority)
    admin = bearer(str(started.bootstrap_key))
    caplog.set_level(logging.WARNING, logger="jot.authority")
    transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 1))
    slowest = 0.0
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:

        async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
            nonlocal slowest
            begun = time.monotonic()
            response = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
            slowest = max(slowest, time.monotonic() - begun)
            assert response.status_code < 500, response.text
            return response

        user = {"name": "alice@example.com", "password": PASSWORD}
        assert (await call("POST", "/api/users", json=user, headers=admin)).status_code == 201
        assert (
            await call("POST", "/api/destinations", json={"name": "web"}, headers=admin)
        ).is_success
        grant = {"subject": "user:alice@example.com", "role": "viewer", "resource": "web"}
        assert (await call("POST", "/api/grants", json=grant, headers=admin)).is_success
        login = await call("POST", "/api/login", json=user)
        assert login.status_code == 201
        key = bearer(login.json()["access_key"])
        for _ in range(20):
            bad = await call(
                "GET", "/api/whoami", headers=bearer("jot_ak_" + "x" * 12 + "_" + "y" * 32)
            )
            assert bad.status_code in (401, 429)
            token = await call("POST", "/api/tokens", json={"destination": "web"}, headers=key)
            assert token.status_code == 201
        # The in-process limits still stop a guesser.
        wrong = {"name": "alice@example.com", "password": "wrong guess"}
        statuses = [(await call("POST", "/api/login", json=wrong)).status_code for _ in range(6)]
        assert statuses[-1] == 429
    started.authority.close()
    hung.close()
    # A hung Redis costs one short timeout per retry interval, not one per request.
    assert slowest < 2.0
    warnings = [r for r in caplog.records if "Redis is unavailable" in r.getMessage()]
    assert len(warnings) == 1


def test_limits_are_shared_through_redis_and_survive_an_outage(relay: Relay) -> None:
    prefix = f"jot-test-{secrets.token_hex(6)}:"
    tick = FakeClock(start=0.0)

    def limiter(url: str) -> FallbackLimiter:
        redis = RedisLimiter(url, prefix=prefix, timeout=0.2)
        return FallbackLimiter(redis, MemoryLimiter(), retry_every=5.0, clock=tick)

    one, two = limiter(relay.url), limiter(_redis_url())
    for _ in range(3):
        one.count("pw:a", POLICY)
    assert two.retry_after("pw:a") > 0  # Counted together, through Redis.

    for mode in ("down", "hung"):
        relay.set(mode)
        begun = time.monotonic()
        for _ in range(3):
            one.count(f"pw:{mode}", POLICY)
        # The in-process counters took over; only the first call paid the timeout.
        assert one.retry_after(f"pw:{mode}") > 0
        assert not one.redis_up
        assert time.monotonic() - begun < 1.0
        relay.set("up")
        tick.advance(5.1)
        assert one.retry_after("pw:a") > 0  # Back on Redis after the retry interval.
        assert one.redis_up
    one.close()
    two.close()
