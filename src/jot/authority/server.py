"""Running the authority under uvicorn: one process, or several workers."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from types import FrameType
from typing import Any, TextIO

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from jot._serving import uvicorn_options
from jot.authority.app import create_app, open_authority
from jot.authority.banner import announce
from jot.authority.db import migrate, open_database
from jot.authority.handlers.grants import STOPPING
from jot.authority.handlers.health import MULTIPROCESS_ENV
from jot.authority.logs import logging_config
from jot.authority.settings import Settings, load_settings

__all__ = ["migrate_only", "serve", "worker_app"]

log = logging.getLogger("jot.authority")

# Flags are handed to worker processes through the environment they inherit.
_ENV_FIELDS = (
    "data_dir", "listen", "issuer", "bootstrap_key_file", "database_url",
    "log_level", "log_format", "access_log",
)  # fmt: skip


def serve(settings: Settings, *, out: TextIO = sys.stderr) -> None:
    """Migrate, bootstrap, then serve until SIGINT/SIGTERM (in-flight requests finish)."""
    started = open_authority(settings)
    announce(settings, started.bootstrap_key, out)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        # jot's access log (--access-log) replaces uvicorn's, which lacks route and identity.
        "log_config": logging_config(settings),
        "access_log": False,
        "timeout_graceful_shutdown": 30,
        # Client addresses come from jot's own ClientAddress (trusted_proxies), and no banner
        # names the server software.
        "proxy_headers": False,
        "server_header": False,
        # Header deadline, idle timeout and a connection cap below the descriptor limit.
        **uvicorn_options(),
    }
    if settings.workers == 1:
        server = _Server(uvicorn.Config(create_app(authority=started.authority), **common))
        _freeze_startup_objects()
        server.run()
        if not server.started:
            sys.exit(3)  # What uvicorn.run exits with when the server could not start.
        return
    started.authority.close()
    for name in _ENV_FIELDS:
        value = getattr(settings, name)
        if value is not None:
            secret = getattr(value, "get_secret_value", None)
            os.environ[f"JOT_{name.upper()}"] = str(secret() if secret else value)
    config = _Config(
        "jot.authority.server:worker_app", factory=True, workers=settings.workers,
        # uvicorn kills a worker that does not answer its supervisor's ping within this many
        # seconds (default 5) and starts another: on a busy machine, a worker still importing
        # the app missed it again and again, and the server never came up.
        timeout_worker_healthcheck=30, **common,
    )  # fmt: skip
    with _shared_metrics(), contextlib.suppress(KeyboardInterrupt):  # As uvicorn.run does.
        Multiprocess(config, sockets=[config.bind_socket()]).run()


class _Config(uvicorn.Config):
    """uvicorn's configuration, whose shared listening socket has ``TCP_NODELAY``.

    asyncio sets it on the connections it accepts only when the listening socket names its
    protocol (``IPPROTO_TCP``); the socket uvicorn binds for its workers does not, and Linux
    hands the option on to accepted sockets. Without it, a response written as head, then
    body waits for the client's delayed ACK: ~40 ms per keep-alive request (bench/authority.py
    measured 0.07× one worker's throughput with two workers).
    """

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


@contextlib.contextmanager
def _shared_metrics() -> Iterator[None]:
    """prometheus_client's multiprocess mode for the workers: each writes its counters to a
    file in one directory and a scrape of any worker sums them all (without it, each scrape
    would see one random worker's counters). Workers are spawned, so they read the variable
    when they import prometheus_client; an operator's own directory is kept."""
    if os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="jot-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_ENV]
        shutil.rmtree(directory, ignore_errors=True)


class _Server(uvicorn.Server):
    """uvicorn's server, telling parked grants long-polls to answer before it waits for the
    requests in flight (with several workers, uvicorn makes its own servers: see
    :func:`worker_app`)."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        STOPPING.set()
        await super().shutdown(sockets)


def worker_app() -> FastAPI:
    """The app of one worker process (settings from the inherited environment)."""
    app = create_app(load_settings())
    uvicorn_options()  # This process's cap and timeouts (class settings are per process).
    _stop_long_polls_first()
    _freeze_startup_objects()
    return app


def _stop_long_polls_first() -> None:
    """What :class:`_Server` does, for a worker process, whose server uvicorn makes itself.

    uvicorn installs its SIGINT/SIGTERM handlers before it calls the app factory (and puts
    the previous ones back when it stops); each is wrapped to tell parked long-polls to
    answer before the graceful shutdown begins.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler):
            signal.signal(signum, functools.partial(_stopping_then, handler))


def _stopping_then(handler: Any, signum: int, frame: FrameType | None) -> None:
    STOPPING.set()
    handler(signum, frame)


def _freeze_startup_objects() -> None:
    """Keep what start-up made (modules, the app, settings) out of the cyclic GC's scans.

    They live as long as the process; without this, every full collection walks all of them
    again, which was the longest pause of a busy server (p99 of token requests ≈ 105 → 65 ms
    under bench/authority.py's load).
    """
    gc.collect()
    gc.freeze()


def migrate_only(settings: Settings) -> None:
    db = open_database(settings)
    try:
        migrate(db)
    finally:
        db.dispose()
