"""jot._serving's one-send responses: a small response's head and body leave in one write;
empty and HEAD answers, streamed responses, pipelined requests and closes are not held up."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from jot._serving import EmptyAnswersHTTP, GuardedHTTP, _HeadWithBody, uvicorn_options


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def _view(
    *, chunked: bool = False, length: int = 2, method: str = "GET"
) -> tuple[_Transport, _HeadWithBody, Any]:
    transport = _Transport()
    cycle = SimpleNamespace(
        response_started=False, chunked_encoding=None, expected_content_length=0,
        scope={"method": method},
    )  # fmt: skip
    view = _HeadWithBody(transport, cycle)  # type: ignore[arg-type]
    cycle.transport = view
    # What uvicorn sets from the response's headers before it writes the head.
    cycle.response_started, cycle.chunked_encoding = True, chunked
    cycle.expected_content_length = length
    return transport, view, cycle


def test_the_head_leaves_with_the_body_in_one_write() -> None:
    transport, view, _ = _view()
    view.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert transport.writes == []
    view.write(b"ok")
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]


@pytest.mark.parametrize(
    ("length", "method"), [(0, "GET"), (5, "HEAD")], ids=["empty body", "HEAD"]
)
def test_a_head_without_a_body_to_come_goes_at_once(length: int, method: str) -> None:
    """Nothing to join it with (forward auth's answers are all empty): the head is written
    as it comes, and the rest of the response goes straight to the transport."""
    transport, view, cycle = _view(length=length, method=method)
    view.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"]
    assert cycle.transport is transport


def test_a_close_lets_a_held_head_go_first() -> None:
    transport, view, _ = _view()
    view.write(b"head")
    view.close()
    assert transport.writes == [b"head"]
    assert transport.closed


def test_a_chunked_head_and_writes_before_the_response_are_not_held() -> None:
    transport, view, _ = _view(chunked=True)
    view.write(b"head")
    assert transport.writes == [b"head"]
    transport = _Transport()
    cycle = SimpleNamespace(response_started=False, chunked_encoding=None)
    view = _HeadWithBody(transport, cycle)  # type: ignore[arg-type]
    view.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # Before the response started.
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]


async def _small(request: Request) -> Response:
    return Response("small", media_type="text/plain")


async def _stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        await asyncio.sleep(2)
        yield b"late"

    return StreamingResponse(chunks(), media_type="text/plain")


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    app = Starlette(
        routes=[Route("/small", _small, methods=["GET", "HEAD"]), Route("/stream", _stream)]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=GuardedHTTP, log_level="warning", lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.01)
    yield sock.getsockname()[1]
    running.should_exit = True
    thread.join(5)


def _exchange(port: int, raw: bytes, until: bytes, timeout: float = 1.5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(raw)
        got = b""
        while until not in got:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def test_small_head_and_pipelined_answers_over_a_real_server(server: int) -> None:
    get = b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n"
    head = b"HEAD /small HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = _exchange(server, get, b"small")
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert answer.endswith(b"\r\n\r\nsmall")
    answer = _exchange(server, head, b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert b"content-length: 5" in answer
    # Pipelined: a HEAD (no body write) then a GET on one connection, both answered.
    answer = _exchange(server, head + get, b"small")
    assert answer.count(b"HTTP/1.1 200 OK") == 2


def test_a_streamed_responses_head_is_not_held_for_its_body(server: int) -> None:
    started = time.monotonic()
    answer = _exchange(server, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert time.monotonic() - started < 1.5  # The body comes after 2 s.


def test_a_view_lets_go_of_its_cycle_at_the_head() -> None:
    """The cycle holds the view as its transport: a view that held the cycle too left
    every request to the garbage collector."""
    import gc

    transport, view, cycle = _view()
    view.write(b"head")
    assert cycle not in gc.get_referents(view)
    view.write(b"ok")
    view.write(b"more")  # Later writes pass through.
    assert transport.writes == [b"headok", b"more"]


@pytest.mark.parametrize(("bodies", "held"), [(True, True), (False, False)])
def test_an_app_without_bodies_is_served_without_the_view(bodies: bool, held: bool) -> None:
    """uvicorn_options(bodies=False) (forward auth) installs no view: the head goes as
    written; the answer is the same."""
    from uvicorn.server import ServerState

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"ok"})

    http = uvicorn_options(bodies=bodies)["http"]
    assert http is (GuardedHTTP if bodies else EmptyAnswersHTTP)
    config = uvicorn.Config(app, http=http, lifespan="off", log_level="warning")
    config.load()

    async def exchange() -> list[bytes]:
        transport = _Transport()
        protocol = http(config=config, server_state=ServerState(), app_state={})
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert isinstance(protocol.cycle.transport, _HeadWithBody) is held
        await asyncio.sleep(0.01)
        protocol.connection_lost(None)
        return transport.writes

    writes = asyncio.run(exchange())
    assert len(writes) == (1 if held else 2)
    assert b"".join(writes).endswith(b"content-length: 2\r\n\r\nok")
