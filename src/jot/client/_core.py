"""The sans-I/O core: a :class:`Call` says what to send and how to read the answer; the
sync and async clients only move bytes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from jot._urls import normalise_server
from jot.api.untrusted import loads

__all__ = [
    "Call",
    "ClientError",
    "ConnectError",
    "body_of",
    "finish",
    "normalise_server",
    "request_args",
    "request_body",
]

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


def body_of(model: type[BaseModel], **fields: Any) -> dict[str, Any]:
    """The JSON body of a ``model`` request (a ``jot.api`` model) with the ``fields`` that are
    not ``None``: only those are sent (an older authority may not know a newer field), and
    secrets are sent in clear.

    Values the model refuses are sent as given: the authority's refusal (400, in its words)
    is then the one every client sees, as for a body that passed here.
    """
    given = {name: value for name, value in fields.items() if value is not None}
    try:
        request = model(**given)
    except ValidationError:
        return given
    return request_body(request)


def request_body(request: BaseModel) -> dict[str, Any]:
    """The JSON body of ``request``: the fields that were set, secrets in clear."""
    body = request.model_dump(mode="json", exclude_unset=True)
    for name in body:
        value = getattr(request, name)
        if isinstance(value, SecretStr):
            body[name] = value.get_secret_value()
    return body


def _error(response: httpx.Response) -> ClientError:
    try:
        body = loads(response.content)
        return ClientError(response.status_code, str(body["error"]), str(body["message"]))
    except (ValueError, KeyError, TypeError):
        reason = response.reason_phrase or "error"
        answered = f"HTTP {response.status_code} {reason}"
        if response.status_code >= 500:  # A proxy in front of an authority that is down.
            return ClientError(response.status_code, "http_error", answered)
        return _not_jot(response, answered)


def _not_jot(response: httpx.Response, answered: str) -> ClientError:
    """Every jot answer is JSON of a known shape: anything else came from something else."""
    where = response.request.url.copy_with(query=None, fragment=None)
    return ClientError(
        response.status_code,
        "not_jot",
        f"{where.scheme}://{where.netloc.decode()} is not a jot authority "
        f"({answered} for {where.path})",
    )


def finish(call: Call[T], response: httpx.Response) -> T:
    """Parse the answer to ``call`` or raise :class:`ClientError`."""
    if response.status_code not in call.ok:
        raise _error(response)
    try:
        return call.parse(response)
    except ValueError:  # pydantic's ValidationError is one: a 200 that is not jot's answer.
        raise _not_jot(response, f"an unexpected HTTP {response.status_code} answer") from None


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
