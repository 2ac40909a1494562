"""uvicorn against slow, idle and too many clients (``jot server`` and the connectors).

uvicorn keeps a connection that never sends a complete request head for as long as the
client likes (its keep-alive timeout starts only after a response), and accepts
connections until the process runs out of file descriptors; then every ``accept()`` fails
and logs a traceback. With the common limit of 1024, about a thousand idle connections
locked every normal client out. :class:`GuardedHTTP` (uvicorn's httptools protocol) adds:

- a **header deadline**: a request head (from its first byte, or from the connection's
  start) must be complete within ``JOT_HEADER_TIMEOUT`` seconds (10), else the connection
  is closed; an idle keep-alive connection is closed after ``JOT_IDLE_TIMEOUT`` (5);
- a **connection cap** below the descriptor limit (``JOT_MAX_CONNECTIONS``, by default the
  soft ``RLIMIT_NOFILE`` less an eighth, at least 64, kept for files, the database and
  upstreams; :func:`raise_fd_limit` first raises the soft limit to the hard one): a
  connection over it is answered ``503`` with ``Retry-After`` and closed at once;
- **quiet logs**: each of these is logged at most once per minute, with a count;
- **one send per small response**: uvicorn writes a response's head and its body apart,
  two ``send()`` calls where one does (on a cached token, the second cost about a tenth of
  the server's CPU): the head of a response with a body waits for the body's first write
  (:class:`_HeadWithBody`). An app whose answers have no body (forward auth) is served
  without it (``uvicorn_options(bodies=False)``): there, it only cost time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import threading
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = [
    "BUSY",
    "FULL",
    "SLOW",
    "EmptyAnswersHTTP",
    "GuardedHTTP",
    "RateLimitedLog",
    "ServingConfigError",
    "connection_cap",
    "quiet_accept_errors",
    "raise_fd_limit",
    "server_limits",
    "uvicorn_options",
]

log = logging.getLogger("jot.serving")

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 5
#: The most descriptors :func:`raise_fd_limit` asks for when the hard limit is unlimited.
_FD_CEILING = 1 << 16


def raise_fd_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; the soft limit in force after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _FD_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):  # A container may refuse; the old limit stands.
            pass
    return _FD_CEILING if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(fd_limit: int) -> int:
    """Connections to accept at once with ``fd_limit`` descriptors."""
    return max(16, fd_limit - max(64, fd_limit // 8))


class ServingConfigError(ValueError):
    """A ``JOT_*`` serving variable with a bad value (said in one line by the CLI)."""


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ServingConfigError(f"{name} must be a positive number: {value!r}") from None
    if not 0 < number < float("inf"):
        raise ServingConfigError(f"{name} must be a positive number: {value!r}")
    return number


class RateLimitedLog:
    """A warning at most once per ``every`` seconds, counting the events it folded."""

    def __init__(self, message: str, *, every: float = 60.0) -> None:
        self.message, self.every = message, every
        self._last: float | None = None
        self._count = 0
        self._lock = threading.Lock()

    def note(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._count += 1
            if self._last is not None and now - self._last < self.every:
                return
            self._last, count, self._count = now, self._count, 0
        log.warning("%s (%d in the last %.0f s at most; said once per interval)",
                    self.message, count, self.every)  # fmt: skip


FULL = RateLimitedLog("connection limit reached: answered 503 to new connections")
SLOW = RateLimitedLog("closed connections that sent no complete request head in time")
#: The whole answer to a connection over the cap.
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\n"
BUSY += b"connection: close\r\n\r\n"


NO_FDS = RateLimitedLog("out of file descriptors: new connections wait in the backlog")
_QUIETED: set[int] = set()


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio logs a traceback for each failed ``accept()`` (once a second while out of
    descriptors): one line per interval instead."""
    if id(loop) in _QUIETED:
        return
    _QUIETED.add(id(loop))
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if message.startswith("socket.accept() out of system resource"):
            NO_FDS.note()
        elif "_start_serving" in message and isinstance(context.get("exception"), ValueError):
            # asyncio's accept retries, scheduled while out of descriptors, that run after
            # the listening socket closed at shutdown: nothing is lost.
            log.debug("accept retry after shutdown: %s", context.get("exception"))
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


class _HeadWithBody:
    """A response's view of the connection's transport: the head of a response whose body
    will be written (a known, non-zero length; not ``HEAD``) is held and leaves with the
    body's first write, in one ``send()``. Any other head (an empty body: nothing to join it
    with; a streamed, chunked response) goes at once, and a close lets a held head go first.

    The view looks at its response only once, at the head: it then lets go of the cycle
    (which holds the view), so that no reference cycle leaves every request to the garbage
    collector."""

    __slots__ = ("_cycle", "_head", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport, self._cycle = transport, cycle
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head, cycle = self._head, self._cycle
        if head is not None:
            data, self._head = head + data, None
        elif cycle is not None and cycle.response_started:  # This is the head.
            self._cycle = None
            if (
                cycle.chunked_encoding is False
                and cycle.expected_content_length
                and cycle.scope["method"] != "HEAD"
            ):
                self._head = data
                return
            cycle.transport = self._transport  # Nothing to hold: the rest goes straight.
        self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHTTP(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a connection cap, and a small
    response's head and body in one write."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = connection_cap(1024)
    #: Whether a response's head waits for its body (see :class:`_HeadWithBody`).
    one_send = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._over_cap = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        quiet_accept_errors(self.loop)
        if len(self.connections) > self.max_connections:
            # Over the cap: the answer goes out when the request comes (then the socket has
            # nothing unread and closes cleanly), and at the latest after a second.
            self._over_cap = True
            self._deadline = self.loop.call_later(1.0, transport.close)
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._over_cap:
            FULL.note()
            if not self.transport.is_closing():
                self.transport.write(BUSY)
                self.transport.close()
            return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # The next request on a keep-alive connection.
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        cycle = self.cycle
        if self.one_send and cycle is not None and cycle.transport is self.transport:
            cycle.transport = _HeadWithBody(self.transport, cycle)  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            SLOW.note()
            self.transport.close()


class EmptyAnswersHTTP(GuardedHTTP):
    """:class:`GuardedHTTP` for an app whose answers have no body (forward auth): a head has
    nothing to wait for, and the view cost about 0.8 µs of CPU per answer."""

    one_send = False


def server_limits() -> tuple[float, float, int]:
    """``(header timeout, idle timeout, connection cap)`` from the environment
    (``JOT_HEADER_TIMEOUT``, ``JOT_IDLE_TIMEOUT``, ``JOT_MAX_CONNECTIONS``), after raising
    the descriptor limit. Raises ``ValueError`` for a bad value."""
    limit = raise_fd_limit()
    header = _env_number("JOT_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT)
    idle = _env_number("JOT_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT)
    cap = int(_env_number("JOT_MAX_CONNECTIONS", float(connection_cap(limit))))
    return header, idle, cap


def uvicorn_options(*, bodies: bool = True) -> dict[str, Any]:
    """uvicorn settings for a guarded server (see :func:`server_limits`); ``bodies=False``
    for an app whose answers have no body (:class:`EmptyAnswersHTTP`)."""
    header, idle, cap = server_limits()
    GuardedHTTP.header_timeout, GuardedHTTP.max_connections = header, cap
    http = GuardedHTTP if bodies else EmptyAnswersHTTP
    return {"http": http, "timeout_keep_alive": max(1, round(idle))}
