"""Issue 13 item 4 for the proxy connector (its own asyncio server): silent and slow
clients are closed after the idle and header timeouts, and connections over the cap get
a quick 503."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from jot.destination.proxy import Proxy

from .authority import FakeAuthority
from .rawhttp import upstream, verifier


@contextlib.contextmanager
def _serving(monkeypatch: pytest.MonkeyPatch, **limits: str) -> Iterator[int]:
    for name, value in limits.items():
        monkeypatch.setenv(name, value)
    loop = asyncio.new_event_loop()
    sock = socket.create_server(("127.0.0.1", 0))
    with upstream() as up:
        proxy = Proxy(verifier(FakeAuthority(), "web"), up.url)
        task = loop.create_task(proxy.serve(sock, None))
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()

        async def shutdown() -> None:
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for other in others:
                other.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            assert task.cancelled() or task.done()
            await proxy.verifier.aclose()

        try:
            yield sock.getsockname()[1]
        finally:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()
            sock.close()


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_silent_and_slow_clients_are_closed(monkeypatch):
    with _serving(monkeypatch, JOT_IDLE_TIMEOUT="0.5", JOT_HEADER_TIMEOUT="0.5") as port:
        silent = socket.create_connection(("127.0.0.1", port))
        slow = socket.create_connection(("127.0.0.1", port))
        started = time.monotonic()
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX: aaaaaaaaaaaaaaaaaaaaaa":
            try:
                slow.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        assert time.monotonic() - started < 2.5  # Cut off, not served at its pace.
        with silent, slow:
            assert _closed_within(silent, 2)
            assert _closed_within(slow, 2)


def test_connections_over_the_cap_get_503(monkeypatch):
    with _serving(monkeypatch, JOT_MAX_CONNECTIONS="3", JOT_IDLE_TIMEOUT="30") as port:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port)) as extra:
            extra.settimeout(2)
            answer = extra.recv(1024)
        for sock in held:
            sock.close()
    assert answer.startswith(b"HTTP/1.1 503")
    assert b"retry-after: 1" in answer
