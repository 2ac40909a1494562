"""A recording stand-in for a Kubernetes API server, over TLS, written with h11 so that it
can also accept an ``Upgrade`` to any protocol (then it echoes bytes in upper case, like an
exec stream would carry them)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import h11

API_VERSIONS = {
    "kind": "APIVersions",
    "versions": ["v1"],
    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
}
API_GROUPS = {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"}
RESOURCES = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        {
            "name": "namespaces",
            "singularName": "namespace",
            "namespaced": False,
            "kind": "Namespace",
            "verbs": ["get", "list", "watch"],
            "shortNames": ["ns"],
        },
        {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["get", "list", "watch"],
            "shortNames": ["po"],
        },
    ],
}
NAMESPACES = {
    "kind": "NamespaceList",
    "apiVersion": "v1",
    "metadata": {"resourceVersion": "1"},
    "items": [
        {
            "metadata": {
                "name": name,
                "uid": f"uid-{name}",
                "creationTimestamp": "2026-01-01T00:00:00Z",
            },
            "status": {"phase": "Active"},
        }
        for name in ("default", "kube-system")
    ],
}
ROUTES: dict[str, Any] = {
    "/api": API_VERSIONS,
    "/apis": API_GROUPS,
    "/version": VERSION,
    "/api/v1": RESOURCES,
    "/api/v1/namespaces": NAMESPACES,
}


def pods(namespace: str) -> dict[str, Any]:
    """The pods of a namespace: one, named after it (``app-dev``)."""
    return {
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"},
        "items": [
            {
                "metadata": {
                    "name": f"app-{namespace}",
                    "namespace": namespace,
                    "uid": f"uid-app-{namespace}",
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                },
                "spec": {"containers": [{"name": "app", "image": "app"}]},
                "status": {"phase": "Running"},
            }
        ],
    }


def _route(path: str) -> Any:
    """The answer for ``path``, or None (404)."""
    parts = path.strip("/").split("/")
    if len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
        return pods(parts[3])
    return ROUTES.get(path)


@dataclass
class Seen:
    method: str
    path: str
    headers: list[tuple[str, str]]
    client_cn: str | None = None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]


@dataclass
class FakeAPIServer:
    token: str | None = "sa-token-1"  # None: authenticate by client certificate instead.
    seen: list[Seen] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = await self._next(conn, reader)
                if not isinstance(event, h11.Request):
                    return
                body = b""
                while not isinstance(e := await self._next(conn, reader), h11.EndOfMessage):
                    body += e.data  # type: ignore[attr-defined]
                if await self._answer(conn, event, writer, reader):
                    return
                if conn.our_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (h11.ProtocolError, OSError):
            return
        finally:
            writer.close()

    @staticmethod
    async def _next(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while (event := conn.next_event()) is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        return event

    async def _answer(self, conn, request, writer, reader) -> bool:
        headers = [(k.decode().lower(), v.decode()) for k, v in request.headers]
        path = request.target.decode().split("?")[0]
        cn = _client_cn(writer)
        self.seen.append(Seen(request.method.decode(), path, headers, cn))
        authenticated = (
            cn is not None
            if self.token is None
            else (dict(headers).get("authorization") == f"Bearer {self.token}")
        )
        if not authenticated:
            status, body = 401, {"kind": "Status", "code": 401}
        elif "upgrade" in dict(headers):
            switching = [("connection", "upgrade"), ("upgrade", dict(headers)["upgrade"])]
            writer.write(conn.send(h11.InformationalResponse(status_code=101, headers=switching)))
            writer.write(conn.trailing_data[0])
            while data := await reader.read(65536):
                writer.write(data.upper())
                await writer.drain()
            return True
        elif path == "/stream":
            writer.write(
                conn.send(h11.Response(status_code=200, headers=[("content-type", "text/plain")]))
            )
            for i in range(3):
                writer.write(conn.send(h11.Data(data=f"event {i}\n".encode())))
                await writer.drain()
                await asyncio.sleep(0.05)
            writer.write(conn.send(h11.EndOfMessage()))
            return False
        else:
            found = _route(path)
            status, body = (200, found) if found is not None else (404, {"kind": "Status"})
        data = json.dumps(body).encode()
        writer.write(
            conn.send(
                h11.Response(
                    status_code=status,
                    headers=[
                        ("content-type", "application/json"),
                        ("content-length", str(len(data))),
                    ],
                )
            )
        )
        writer.write(conn.send(h11.Data(data=data)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        return False


def _client_cn(writer: asyncio.StreamWriter) -> str | None:
    cert = writer.get_extra_info("peercert")
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


@contextlib.contextmanager
def run_api_server(
    server: FakeAPIServer, certfile: str, keyfile: str, client_ca: str | None = None
) -> Iterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: list[asyncio.Future[None]] = []

    async def main() -> None:
        srv = await asyncio.start_server(server.handle, sock=sock, ssl=context)
        stop.append(loop.create_future())
        ready.set()
        async with srv:
            await stop[0]

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("fake API server did not start")
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop[0].set_result, None)
        thread.join(timeout=5)
        loop.close()
