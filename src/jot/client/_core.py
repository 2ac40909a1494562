"""The sans-I/O core: a :class:`Call` says what to send and how to read the answer; the
sync and async clients only move bytes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

__all__ = ["Call", "ClientError", "ConnectError", "finish", "normalise_server", "request_args"]

T = TypeVar("T")


class ClientError(Exception):
    """The authority refused the request: ``status``, a stable ``error`` code, a ``message``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


class ConnectError(ClientError):
    """The authority could not be reached."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "unreachable", message)


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ok: tuple[int, ...] = (200, 201, 204)
    timeout: float | None = None


def _error(response: httpx.Response) -> ClientError:
    try:
        body = response.json()
        return ClientError(response.status_code, str(body["error"]), str(body["message"]))
    except (ValueError, KeyError, TypeError):
        reason = response.reason_phrase or "error"
        return ClientError(
            response.status_code, "http_error", f"HTTP {response.status_code} {reason}"
        )


def finish(call: Call[T], response: httpx.Response) -> T:
    """Parse the answer to ``call`` or raise :class:`ClientError`."""
    if response.status_code not in call.ok:
        raise _error(response)
    return call.parse(response)


def normalise_server(server: str) -> str:
    """``auth.example`` → ``https://auth.example``; loopback names default to ``http``."""
    server = server.strip().rstrip("/")
    if "://" not in server:
        host = server.split(":", 1)[0]
        scheme = "http" if host in ("localhost", "127.0.0.1", "[::1]") else "https"
        server = f"{scheme}://{server}"
    return server


def request_args(call: Call[Any], access_key: str | None) -> dict[str, Any]:
    headers = dict(call.headers)
    if access_key:
        headers["Authorization"] = f"Bearer {access_key}"
    args: dict[str, Any] = {"headers": headers}
    if call.params:
        args["params"] = {k: v for k, v in call.params.items() if v is not None}
    if call.json is not None:
        args["json"] = call.json
    if call.timeout is not None:
        args["timeout"] = call.timeout
    return args
