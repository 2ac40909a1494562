"""The authority's logs: one configuration for jot's and uvicorn's loggers, text or JSON
lines, and an optional access log.

``--log-format json`` writes one object per line: ``time``, ``level``, ``logger``,
``message``, and for access lines ``request_id``, ``method``, ``route``, ``status``,
``duration_ms`` and ``identity`` (the identity's id). No line carries a header, a query
string or a body, so no secret reaches the logs (jot never puts one in a path); routes are
logged as their templates (``/api/users/{name}``) where the router names one.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jot.authority.settings import Settings

__all__ = [
    "IDENTITY_SCOPE_KEY",
    "AccessLog",
    "JsonFormatter",
    "TextFormatter",
    "configure",
    "logging_config",
]

#: Where request handling notes the authenticated identity's id, for the access log.
IDENTITY_SCOPE_KEY = "jot.identity"

#: The fields an access line adds to a record, in the order text lines show them.
_FIELDS = ("request_id", "method", "route", "status", "duration_ms", "identity")
_TEXT_FIELDS = ("request_id", "duration_ms", "identity")
# An incoming X-Request-Id is kept when it is this tame (a proxy's id); else a fresh one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

access_log = logging.getLogger("jot.access")


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({name: getattr(record, name) for name in _FIELDS if hasattr(record, name)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER MESSAGE key=value …`` (an access line's message already says the
    method, route and status)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = "".join(
            f" {name}={getattr(record, name)}" for name in _TEXT_FIELDS if hasattr(record, name)
        )
        line = f"{_time(record)} {record.levelname} {record.name} {record.getMessage()}{fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def logging_config(settings: Settings) -> dict[str, Any]:
    """The ``logging.config`` dictionary of the server (uvicorn applies it in each worker)."""
    level = settings.log_level.upper()
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    handler = {"handlers": ["stderr"], "propagate": False}
    # uvicorn's own lines (start-up, shutdown) are noise below a warning unless debugging.
    server_level = "DEBUG" if level == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"jot": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "jot",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "jot": {**handler, "level": level},
            "uvicorn": {**handler, "level": server_level},
            "uvicorn.error": {"level": server_level},
            "uvicorn.access": {**handler, "level": "WARNING"},
        },
    }


def configure(settings: Settings) -> dict[str, Any]:
    """Apply the configuration to this process and return it (for uvicorn)."""
    config = logging_config(settings)
    logging.config.dictConfig(config)
    return config


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
    return secrets.token_hex(8)


class AccessLog:
    """One line per request on ``jot.access``; every answer carries ``X-Request-Id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id, start, status = _request_id(scope), time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # The template of the matched route; else the path (never the query string).
            route = getattr(scope.get("route"), "path", None) or scope["path"][:200]
            fields = {
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                "identity": scope.get(IDENTITY_SCOPE_KEY),
            }
            access_log.info("%s %s %s", scope["method"], route, status, extra=fields)
