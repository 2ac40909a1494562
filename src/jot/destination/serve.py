"""Run a destination-side ASGI app with uvicorn on a socket we bind ourselves.

Binding first lets ``--port 0`` work (tests, sidecars): the real address is printed on
stdout before the server starts, as ``listening on http(s)://HOST:PORT``.
"""

from __future__ import annotations

import socket
import ssl
import sys
from typing import TextIO

import uvicorn
from starlette.types import ASGIApp

from jot._serving import uvicorn_options

__all__ = ["bind", "serve"]


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this on Linux: a response written as head + body must not wait
    # for the client's delayed ACK (a 40 ms stall per request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def serve(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    certfile: str | None = None,
    keyfile: str | None = None,
    out: TextIO = sys.stdout,
    log_level: str = "warning",
    bodies: bool = True,
) -> None:
    """Serve ``app``; ``bodies=False`` for an app whose answers have no body (forward auth:
    see :func:`jot._serving.uvicorn_options`)."""
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    scheme = "https" if certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    print(f"listening on {scheme}://{shown}:{actual}", file=out, flush=True)
    config = uvicorn.Config(
        app, log_level=log_level, lifespan="on", ssl_certfile=certfile, ssl_keyfile=keyfile,
        ssl_version=ssl.PROTOCOL_TLS_SERVER, access_log=False, server_header=False,
        proxy_headers=False, **uvicorn_options(bodies=bodies),
    )  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock])
