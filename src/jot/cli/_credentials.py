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
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jot._urls import normalise_server

__all__ = [
    "FORMATS",
    "Credential",
    "CredentialsError",
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


class CredentialsError(Exception):
    """``credentials.json`` exists but cannot be used; it is never overwritten then."""


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


def _credentials_file() -> Path:
    return config_dir() / "credentials.json"


def load() -> dict[str, Any]:
    """The stored credentials; an empty set when there is no file yet.

    :raises CredentialsError: the file exists but is not jot's credentials file (reading it
        as "not logged in" would let the next ``jot login`` drop every other server's key).
    """
    path = _credentials_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"current": None, "servers": {}}
    except (OSError, UnicodeError) as exc:
        raise CredentialsError(f"cannot read {path}: {getattr(exc, 'strerror', exc)}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _damaged(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
        raise _damaged(path, 'not an object with "servers"')
    return data


def _damaged(path: Path, what: str) -> CredentialsError:
    return CredentialsError(
        f"{path} is {what}; jot leaves it untouched: repair it, or move it away and log in again"
    )


def _save(data: dict[str, Any]) -> None:
    """Replace the credentials file, keeping the previous one as ``credentials.json.bak``."""
    path = _credentials_file()
    if path.exists():
        backup = path.with_name(path.name + ".bak")
        fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle, path.open("rb") as current:
            shutil.copyfileobj(current, handle)
    _write_private(path, data)


def remember(server: str, credential: Credential) -> None:
    """Store the credential for ``server`` and make it the current server."""
    data = load()
    data["servers"][server] = credential
    data["current"] = server
    _save(data)


def forget(server: str) -> bool:
    data = load()
    removed = data["servers"].pop(server, None) is not None
    if data.get("current") == server:
        data["current"] = next(iter(data["servers"]), None)
    _save(data)
    for entry in cache_dir().glob("*.json"):
        if (_read(entry) or {}).get("server") == server:
            with contextlib.suppress(OSError):
                entry.unlink()
    return removed


def resolve(server: str | None) -> tuple[str, str] | None:
    """``(server, access_key)``: ``JOT_ACCESS_KEY`` (+ ``JOT_SERVER``) for machines, else the
    stored credential of ``server`` or of the current server."""
    env_key = os.environ.get("JOT_ACCESS_KEY")
    env_server = normalise_server(server or os.environ.get("JOT_SERVER") or "")
    if env_key and env_server:
        return env_server, env_key
    data = load()
    # Spelled as for `jot login` (`127.0.0.1:8080` is `http://127.0.0.1:8080`).
    chosen = env_server or data.get("current")
    if not chosen:
        return None
    credential = data["servers"].get(chosen)
    if not isinstance(credential, dict) or "access_key" not in credential:
        return None
    return chosen, str(credential["access_key"])


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
