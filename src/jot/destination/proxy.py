"""The reverse proxy: verify the jot token, clean the headers, say who is calling, stream.

HTTP/1.1 with h11 on both sides, so that bodies stream both ways (``kubectl … --watch``) and
``Upgrade`` requests (``kubectl exec``/``port-forward``/``attach``, WebSockets) become a
byte pipe once the upstream answers ``101 Switching Protocols``. In Kubernetes mode the
upstream is an API server: the proxy authenticates with its own credential and sends
``Impersonate-User``/``Impersonate-Group``; see :mod:`jot.destination.proxy_headers`.

With ``browser=`` (:mod:`jot.destination.browser`) it signs browsers in as the middleware
does: the ``/.jot/`` endpoints are answered here, a request without ``Authorization`` is
decided by its session cookie (a renewed one is added to the upstream's answer), and a GET
without a session is redirected to ``/.jot/signin``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
from collections.abc import Sequence
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlsplit

import h11

from jot._serving import (
    BUSY,
    DEFAULT_HEADER_TIMEOUT,
    FULL,
    SLOW,
    quiet_accept_errors,
    server_limits,
)
from jot.destination._core import REFUSED, allowed, refuse, request_token
from jot.destination.browser import AsyncBrowserSignIn
from jot.destination.proxy_headers import (
    HeaderRules,
    Headers,
    IdentityHeaders,
    framing_problem,
    request_headers,
    response_headers,
    upgrade_of,
)
from jot.destination.verifier import AsyncVerifier

__all__ = ["CredentialFile", "Proxy"]

log = logging.getLogger("jot.destination")

_CHUNK = 64 * 1024
_CONNECT_TIMEOUT = 10.0


class CredentialFile:
    """A bearer token in a file, re-read whenever the file changes (rotated service-account
    tokens: Infra read its token once and failed after the rotation)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._value = ""
        self.read()

    def read(self) -> str:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp != self._stamp:
            self._value, self._stamp = self.path.read_text().strip(), stamp
        return self._value


class _UpstreamError(Exception):
    """The upstream's answer is not HTTP we can relay (502 if nothing was sent yet)."""


async def _next_event(
    conn: h11.Connection, reader: asyncio.StreamReader, seen: bytearray | None = None
) -> object:
    """The next h11 event; the bytes read for it are added to ``seen`` when given."""
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        data = await reader.read(_CHUNK)
        if seen is not None:
            seen += data
        conn.receive_data(data)


async def _upstream_event(up: h11.Connection, reader: asyncio.StreamReader) -> object:
    try:
        return await _next_event(up, reader)
    except h11.RemoteProtocolError as exc:
        raise _UpstreamError(str(exc)) from None


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first: bytes) -> None:
    if first:
        writer.write(first)
    while data := await reader.read(_CHUNK):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof():
            writer.write_eof()


class Proxy:
    """One upstream; one :class:`AsyncVerifier`; serve with :meth:`serve`."""

    def __init__(
        self,
        verifier: AsyncVerifier,
        upstream: str,
        *,
        rendering: IdentityHeaders | None = None,
        upstream_tls: ssl.SSLContext | None = None,
        credential: CredentialFile | None = None,
        require_grant: bool = True,
        rules: HeaderRules | None = None,
        browser: AsyncBrowserSignIn | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http(s) URL: {upstream!r}")
        self.verifier = verifier
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.host_header = parts.netloc.encode("ascii")
        self.tls = (
            (upstream_tls or ssl.create_default_context()) if parts.scheme == "https" else None
        )
        self.rendering = rendering or IdentityHeaders()
        self.credential = credential
        self.require_grant = require_grant
        self.rules = rules or HeaderRules()
        if browser is not None and self.rendering.kubernetes:
            # kubectl sends bearer tokens; a cookie that impersonates is a CSRF target.
            raise ValueError("browser sign-in is for web apps, not the Kubernetes mode")
        self.browser = browser
        # Until serve() reads the limits: no cap, the default timeouts.
        self._open, self._cap = 0, 1 << 30
        self._header_timeout, self._idle_timeout = DEFAULT_HEADER_TIMEOUT, 120.0

    async def serve(self, sock: socket.socket, tls: ssl.SSLContext | None) -> None:
        # The same guards as the uvicorn-served connectors (jot._serving): a header
        # deadline, a connection cap below the descriptor limit, quiet logs.
        header, idle, self._cap = server_limits()
        self._header_timeout, self._idle_timeout = header, idle
        quiet_accept_errors(asyncio.get_running_loop())
        server = await asyncio.start_server(
            self.handle, sock=sock, ssl=tls, limit=_CHUNK,
            ssl_handshake_timeout=header if tls is not None else None,
        )  # fmt: skip
        async with server:
            await server.serve_forever()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open += 1
        try:
            if self._open > self._cap:
                FULL.note()
                with contextlib.suppress(OSError, ssl.SSLError):
                    writer.write(BUSY)
                    await asyncio.wait_for(writer.drain(), 1.0)
                return
            await self._handle(reader, writer)
        finally:
            self._open -= 1
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_CHUNK)
        try:
            while True:
                # The raw head, for the one check h11 cannot make (obs-fold): what is left
                # over from the last request, and what is read until this one is parsed.
                head = bytearray(conn.trailing_data[0])
                event = await self._next_head(conn, reader, head)
                if not isinstance(event, h11.Request):
                    break
                if not await self._exchange(conn, event, reader, writer, bytes(head)):
                    break
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            # The client's bytes are not HTTP we accept (conflicting Content-Length, a
            # Transfer-Encoding other than chunked, a bad header name or chunk, …).
            log.info("jot proxy: 400 malformed request: %s", exc)
            await _refuse(conn, writer, 400)
        except _UpstreamError as exc:
            log.warning("jot proxy: bad answer from the upstream: %s", exc)
            await _refuse(conn, writer, 502)
        except (h11.ProtocolError, OSError, TimeoutError, ssl.SSLError) as exc:
            log.debug("jot proxy: connection ended: %r", exc)

    async def _next_head(
        self, conn: h11.Connection, reader: asyncio.StreamReader, head: bytearray
    ) -> object:
        """The next request head: idle up to the idle timeout for its first byte, then the
        header timeout for the rest (a slow client is closed, not kept)."""
        if not head:
            first = await asyncio.wait_for(reader.read(1), self._idle_timeout)
            if not first:
                return None
            conn.receive_data(first)
            head += first
        try:
            return await asyncio.wait_for(_next_event(conn, reader, head), self._header_timeout)
        except TimeoutError:
            SLOW.note()
            raise

    async def _exchange(
        self,
        conn: h11.Connection,
        request: h11.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: bytes,
    ) -> bool:
        client_headers = list(request.headers)
        problem = framing_problem(request.target, client_headers, head, self.rules)
        if problem is not None:
            log.info("jot proxy: 400 %s", problem)
            await _error(conn, writer, 400)
            return False
        decided = await self._identity(conn, request, writer)
        if decided is None:
            return False
        ours, cookies = decided
        credential = self.credential.read() if self.credential is not None else None
        headers = request_headers(
            client_headers, ours, host=self.host_header, credential=credential, rules=self.rules
        )
        target = self.base_path.encode() + request.target
        up = h11.Connection(h11.CLIENT, max_incomplete_event_size=_CHUNK)
        try:
            upstream_head = up.send(
                h11.Request(method=request.method, target=target, headers=headers)
            )
        except h11.LocalProtocolError as exc:
            # The client's headers passed h11's parser: what fails is the identity's, a name
            # or group with a control character, which no header can carry.
            log.info("jot proxy: 403 the identity cannot be passed on in headers: %s", exc)
            await _error(conn, writer, 403)
            return False
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=self.tls, limit=_CHUNK),
                _CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            log.warning("jot proxy: upstream unreachable: %r", exc)
            await _error(conn, writer, 502)
            return False
        try:
            up_writer.write(upstream_head)
            if upgrade_of(client_headers) is not None:
                streams = (reader, writer, up_reader, up_writer)
                return await self._upgrade(conn, up, *streams, cookies)
            await self._request_body(conn, up, reader, up_writer, writer)
            return await self._response(conn, up, writer, up_reader, cookies)
        finally:
            up_writer.close()

    async def _identity(
        self, conn: h11.Connection, request: h11.Request, writer: asyncio.StreamWriter
    ) -> tuple[Headers, Headers] | None:
        """Our identity headers for this request and the cookies to add to its answer, or
        None when it was answered here (refused, or a browser sign-in step)."""
        cookies: Headers = []
        try:
            gate = await self.browser.gate(_scope(request)) if self.browser else None
            if gate is None:
                values = [v.decode("latin-1") for k, v in request.headers if k == b"authorization"]
                identity = await self.verifier.verify(request_token(values))
            elif gate.identity is None or gate.answer is not None:
                status, headers, body = gate.answer or (401, [], b"")
                await _error(conn, writer, status, headers, body)
                return None
            else:
                identity, cookies = gate.identity, gate.cookies or []
            # ForbiddenError from render(): a name Kubernetes reserves.
            below = self.rendering.kubernetes  # A namespace's role counts; RBAC decides.
            return self.rendering.render(
                allowed(identity, self.require_grant, below=below)
            ), cookies
        except REFUSED as exc:
            refusal = refuse(exc, self.verifier.settings.audience)
            refusal.log(log, "proxy")
            await _error(conn, writer, refusal.status, [*refusal.headers, *cookies])
        return None

    @staticmethod
    async def _request_body(
        conn: h11.Connection,
        up: h11.Connection,
        reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        writer: asyncio.StreamWriter,
    ) -> None:
        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        while True:
            event = await _next_event(conn, reader)
            if isinstance(event, h11.Data):
                up_writer.write(up.send(h11.Data(data=event.data)))
                await up_writer.drain()
            elif isinstance(event, h11.EndOfMessage):
                up_writer.write(up.send(h11.EndOfMessage()))
                await up_writer.drain()
                return
            else:
                raise h11.RemoteProtocolError("unexpected event in request body")

    @staticmethod
    async def _response(
        conn: h11.Connection,
        up: h11.Connection,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        cookies: Headers,
    ) -> bool:
        while True:
            event = await _upstream_event(up, up_reader)
            if isinstance(event, h11.InformationalResponse):
                continue  # 100 Continue and friends: h11 already sent the body.
            if isinstance(event, h11.Response):
                headers = [*response_headers(list(event.headers)), *cookies]
                writer.write(
                    conn.send(
                        h11.Response(
                            status_code=event.status_code, headers=headers, reason=event.reason
                        )
                    )
                )
            elif isinstance(event, h11.Data):
                writer.write(conn.send(h11.Data(data=event.data)))
                await writer.drain()
            elif isinstance(event, h11.EndOfMessage):
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                return True
            else:
                raise _UpstreamError("the upstream closed mid-response")

    async def _upgrade(
        self,
        conn: h11.Connection,
        up: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        cookies: Headers,
    ) -> bool:
        up_writer.write(up.send(h11.EndOfMessage()))
        event = await _upstream_event(up, up_reader)
        if not (isinstance(event, h11.InformationalResponse) and event.status_code == 101):
            # The upstream declined: relay its answer as an ordinary response.
            if not isinstance(event, h11.Response):
                raise _UpstreamError("bad answer to an upgrade")
            writer.write(
                conn.send(
                    h11.Response(
                        status_code=event.status_code,
                        headers=[*response_headers(list(event.headers)), *cookies],
                        reason=event.reason,
                    )
                )
            )
            await self._finish(conn, up, writer, up_reader)
            return False
        headers = [*response_headers(list(event.headers), switching=True), *cookies]
        writer.write(
            conn.send(
                h11.InformationalResponse(status_code=101, headers=headers, reason=event.reason)
            )
        )
        await writer.drain()
        client_rest, up_rest = conn.trailing_data[0], up.trailing_data[0]
        tasks = [
            asyncio.ensure_future(_pump(reader, up_writer, client_rest)),
            asyncio.ensure_future(_pump(up_reader, writer, up_rest)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            # Give the other direction a moment to flush what is in flight.
            await asyncio.wait(tasks, timeout=1.0)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return False

    async def _finish(
        self,
        conn: h11.Connection,
        up: h11.Connection,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
    ) -> None:
        while True:
            event = await _upstream_event(up, up_reader)
            if isinstance(event, h11.Data):
                writer.write(conn.send(h11.Data(data=event.data)))
            elif isinstance(event, h11.EndOfMessage):
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                return
            else:
                raise _UpstreamError("the upstream closed mid-response")


async def _error(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    status: int,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes | None = None,
) -> None:
    # The request body (if any) was not read: close the connection after this answer.
    if body is None:
        body = HTTPStatus(status).phrase.encode()
        headers = [*headers, (b"content-type", b"text/plain")]
    all_headers = [
        *headers,
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    writer.write(conn.send(h11.Response(status_code=status, headers=all_headers)))
    writer.write(conn.send(h11.Data(data=body)))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


def _scope(request: h11.Request) -> dict[str, object]:
    """What browser sign-in reads of a request, in the shape of an ASGI scope."""
    raw_path, _, query = request.target.partition(b"?")
    return {
        "type": "http",
        "method": request.method.decode("ascii"),
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": query,
        "headers": list(request.headers),
    }


async def _refuse(conn: h11.Connection, writer: asyncio.StreamWriter, status: int) -> None:
    """Answer ``status`` after a protocol error, if no answer has been started yet."""
    if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
        with contextlib.suppress(h11.ProtocolError, OSError, ssl.SSLError):
            await _error(conn, writer, status)
