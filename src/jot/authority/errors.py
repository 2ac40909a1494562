"""One mapping from errors to HTTP answers: ``{"error": code, "message": one line}``.

Anything that is not an :class:`APIError` becomes a 500 with a generic message; the details
go to the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from jot.authority.dbguard import DatabaseUnavailable
from jot.authority.middleware import security_headers

__all__ = [
    "APIError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "TooManyRequests",
    "Unauthorized",
    "install_error_handlers",
]

log = logging.getLogger("jot.authority")


#: The longest message an error answers with. Messages echo what was asked for (``no
#: destination named '…'``), and a request may name 5,000 characters: the middle of a longer
#: message gives way, its start and its advice at the end stay.
MAX_MESSAGE = 400


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[: MAX_MESSAGE - 120]} … {message[-100:]}"


class APIError(Exception):
    status = 500
    error = "internal"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        message = _bounded(message)
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(APIError):
    status, error = 400, "invalid_request"


class Unauthorized(APIError):
    status, error = 401, "unauthorized"

    def __init__(self, message: str = "a valid access key is required") -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="jot"'})


class Forbidden(APIError):
    status, error = 403, "forbidden"


class NotFound(APIError):
    status, error = 404, "not_found"


class Conflict(APIError):
    status, error = 409, "conflict"


class TooManyRequests(APIError):
    status, error = 429, "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, round(retry_after)))})


def _json(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": error, "message": _bounded(message)}
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, APIError):  # pragma: no cover - registered for APIError only
        raise exc
    return _json(exc.status, exc.error, exc.message, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors: Sequence[Any] = exc.errors() if isinstance(exc, RequestValidationError) else []
    if errors:
        first = errors[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
    else:
        message = "the request is not valid"
    return _json(400, "invalid_request", message)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):  # pragma: no cover
        raise exc
    codes = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    headers = dict(exc.headers) if exc.headers else None
    return _json(
        exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail), headers
    )


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error: %s", exc)
    return _json(409, "conflict", "that conflicts with an existing entry")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """503 for a database that fails or does not answer. The log has one line per outage
    (the database's guard says it), and one line per statement the server refused."""
    if not isinstance(exc, DatabaseUnavailable):
        guard = request.app.state.authority.db.guard
        guard.failed(exc)
        if not getattr(exc, "_jot_noted", False):
            log.warning("database error: %s", str(exc).strip().splitlines()[0][:300])
    return _json(503, "unavailable", "the database is unavailable, try again", {"Retry-After": "1"})


async def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    response = _json(500, "internal", "internal error")
    # Answered outside every middleware (Starlette's outermost layer catches the error).
    response.raw_headers += security_headers(response.raw_headers)
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    for error in (OperationalError, InterfaceError, PoolTimeout, DatabaseUnavailable):
        app.add_exception_handler(error, _database_error)
    app.add_exception_handler(Exception, _internal_error)
