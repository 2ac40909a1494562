"""Authority URLs as people type them (standard library only: the cached ``jot token`` path
uses it without importing httpx)."""

from __future__ import annotations

__all__ = ["normalise_server"]

_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def normalise_server(server: str) -> str:
    """``auth.example`` → ``https://auth.example``; loopback names default to ``http``."""
    server = server.strip().rstrip("/")
    if server and "://" not in server:
        host = (
            server.rsplit(":", 1)[0] if not server.startswith("[") else server.split("]")[0] + "]"
        )
        scheme = "http" if host in _LOOPBACK else "https"
        server = f"{scheme}://{server}"
    return server
