"""Raw HTTP for the proxy tests: an upstream that reads ``Content-Length`` first, the jot
proxy running in this process in front of it, and a client that writes bytes as they are.

The upstream is deliberately simple, as many real servers are: it takes ``Content-Length``
when there is one (``Transfer-Encoding: chunked`` only without it), answers each request with
``200 ok`` and parses whatever follows on the connection as the next request. Every request it
parses is recorded, so a request smuggled inside another one's body shows up in
:attr:`CLFirstUpstream.received`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jot.destination.proxy import Proxy
from jot.destination.verifier import AsyncVerifier

from .authority import ACCESS_KEY, FakeAuthority


@dataclass
class Received:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def names(self) -> list[str]:
        return [k.lower() for k, _ in self.headers]


class CLFirstUpstream:
    """The upstream, on a free loopback port, one thread per connection."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = _Reader(conn)
        with conn:
            while (request := self._read(reader)) is not None:
                self.received.append(request)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    @staticmethod
    def _read(reader: _Reader) -> Received | None:
        head = reader.until(b"\r\n\r\n")
        if not head:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = [*lines[0].split(" "), "", ""][:3]
        headers = [tuple(line.split(":", 1)) for line in lines[1:] if ":" in line]
        fields = [(k.strip(), v.strip()) for k, v in headers]
        values = {k.lower(): v for k, v in fields}
        if "content-length" in values:  # Content-Length first: the point of this server.
            body = reader.exactly(int(values["content-length"]))
        elif values.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while size := int(reader.until(b"\r\n").split(b";")[0] or b"0", 16):
                body += reader.exactly(size)
                reader.exactly(2)
            reader.until(b"\r\n")
        else:
            body = b""
        return Received(method, target, fields, body)


class _Reader:
    def __init__(self, conn: socket.socket) -> None:
        self.conn, self.buffer = conn, b""

    def _more(self) -> bool:
        try:
            data = self.conn.recv(65536)
        except OSError:
            return False
        self.buffer += data
        return bool(data)

    def until(self, mark: bytes) -> bytes:
        while mark not in self.buffer:
            if not self._more():
                return b""
        line, _, self.buffer = self.buffer.partition(mark)
        return line

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size and self._more():
            pass
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


@contextlib.contextmanager
def upstream() -> Iterator[CLFirstUpstream]:
    server = CLFirstUpstream()
    try:
        yield server
    finally:
        server.close()


def verifier(authority: FakeAuthority, audience: str) -> AsyncVerifier:
    return AsyncVerifier(
        authority.issuer, audience=audience, access_key=ACCESS_KEY, http=authority.async_client()
    )


@contextlib.contextmanager
def run_proxy(authority: FakeAuthority, upstream_url: str, **options: Any) -> Iterator[int]:
    """The jot proxy (plain HTTP) in a thread of this process; yields its port."""
    audience = "k8s" if getattr(options.get("rendering"), "kubernetes", False) else "web"
    loop = asyncio.new_event_loop()
    sock = socket.create_server(("127.0.0.1", 0))
    started = threading.Event()
    stop: list[asyncio.Future[None]] = []

    async def main() -> None:
        proxy = Proxy(verifier(authority, audience), upstream_url, **options)
        server = await asyncio.start_server(proxy.handle, sock=sock)
        stop.append(loop.create_future())
        started.set()
        async with server:
            await stop[0]
        await proxy.verifier.aclose()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the proxy did not start")
    try:
        yield sock.getsockname()[1]
    finally:
        loop.call_soon_threadsafe(stop[0].set_result, None)
        thread.join(timeout=5)
        loop.close()


def exchange(port: int, raw: bytes, timeout: float = 5.0, *, until_close: bool = False) -> bytes:
    """Send ``raw`` as it is; the proxy's first answer (or all, ``until_close``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
            if not until_close and _complete(received):
                break
        return received


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def status_of(answer: bytes) -> int:
    """The status code of a raw answer; 0 for none."""
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else 0


def request(target: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """A request's bytes, exactly as given (no header added, none checked)."""
    lines = [f"POST {target} HTTP/1.1" if body else f"GET {target} HTTP/1.1", "Host: proxy"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
