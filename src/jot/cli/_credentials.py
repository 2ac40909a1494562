"""Credentials per server and the token cache, on disk with mode 0600.

Standard library only: ``jot token`` answers from the cache without importing httpx,
pydantic or rich, so kubectl's credential plugin call stays well under 100 ms.

- ``$XDG_CONFIG_HOME/jot/credentials.json``: ``{"current": URL, "servers": {URL: {...}}}``
- ``$XDG_CACHE_HOME/jot/tokens/<hash>.json``: one cached token per server, key and destination
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "FORMATS",
    "Credential",
    "cache_dir",
    "cached_token",
    "config_dir",
    "forget",
    "load",
    "remember",
    "render_token",
    "resolve",
    "store_token",
]

Credential = dict[str, Any]

#: What ``jot token --format`` can print.
FORMATS = ("raw", "json", "exec-credential")


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jot"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jot" / "tokens"


def _write_private(path: Path, data: Any) -> None:
    """Atomically replace ``path`` with ``data`` as JSON, readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def load() -> dict[str, Any]:
    data = _read(config_dir() / "credentials.json")
    if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
        return {"current": None, "servers": {}}
    return data


def remember(server: str, credential: Credential) -> None:
    """Store the credential for ``server`` and make it the current server."""
    data = load()
    data["servers"][server] = credential
    data["current"] = server
    _write_private(config_dir() / "credentials.json", data)


def forget(server: str) -> bool:
    data = load()
    removed = data["servers"].pop(server, None) is not None
    if data.get("current") == server:
        data["current"] = next(iter(data["servers"]), None)
    _write_private(config_dir() / "credentials.json", data)
    for entry in cache_dir().glob("*.json"):
        if (_read(entry) or {}).get("server") == server:
            with contextlib.suppress(OSError):
                entry.unlink()
    return removed


def resolve(server: str | None) -> tuple[str, str] | None:
    """``(server, access_key)``: ``JOT_ACCESS_KEY`` (+ ``JOT_SERVER``) for machines, else the
    stored credential of ``server`` or of the current server."""
    env_key = os.environ.get("JOT_ACCESS_KEY")
    env_server = server or os.environ.get("JOT_SERVER")
    if env_key and env_server:
        return env_server.rstrip("/"), env_key
    data = load()
    chosen = server or env_server or data.get("current")
    if not chosen:
        return None
    credential = data["servers"].get(chosen.rstrip("/"))
    if not isinstance(credential, dict) or "access_key" not in credential:
        return None
    return chosen.rstrip("/"), str(credential["access_key"])


def _cache_file(server: str, access_key: str, destination: str) -> Path:
    digest = hashlib.sha256(f"{server}\0{access_key}\0{destination}".encode()).hexdigest()[:40]
    return cache_dir() / f"{digest}.json"


def _margin(lifetime: float) -> float:
    """Refresh this long before expiry: a fifth of the lifetime, between 10 s and 60 s."""
    return max(10.0, min(60.0, lifetime / 5))


def cached_token(server: str, access_key: str, destination: str) -> dict[str, Any] | None:
    entry = _read(_cache_file(server, access_key, destination))
    if not isinstance(entry, dict):
        return None
    try:
        expires, issued = float(entry["expires"]), float(entry["issued"])
    except (KeyError, TypeError, ValueError):
        return None
    if expires - time.time() <= _margin(expires - issued):
        return None
    return entry


def store_token(
    server: str, access_key: str, destination: str, token: str, expires: float
) -> dict[str, Any]:
    entry = {
        "server": server,
        "destination": destination,
        "token": token,
        "expires": expires,
        "issued": time.time(),
    }
    with contextlib.suppress(OSError):  # A cache that cannot be written is only slower.
        _write_private(_cache_file(server, access_key, destination), entry)
    return entry


def render_token(entry: dict[str, Any], fmt: str) -> str:
    """A cached or fresh token entry as ``jot token --format fmt`` prints it."""
    expires = datetime.fromtimestamp(float(entry["expires"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "json":
        return json.dumps({"token": entry["token"], "expires": expires})
    if fmt == "exec-credential":
        return json.dumps(
            {
                "apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential",
                "status": {"token": entry["token"], "expirationTimestamp": expires},
            }
        )
    return str(entry["token"])
