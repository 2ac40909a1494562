"""Shared plumbing of the token tools: errors, the clock, durations and reading inputs.

Every user mistake becomes one line on stderr: :class:`CommandError` exits 2 (usage: a bad
option value, an unreadable key file) and :class:`TokenRejected` exits 1 (the token is
invalid). :func:`friendly_errors` turns jot's and the OS's exceptions into those two.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from jot.jose.errors import InvalidTokenError, JoseError, JotError

__all__ = [
    "MAX_INPUT",
    "NOW_ENV",
    "OUT_OF_RANGE",
    "CommandError",
    "TokenRejected",
    "format_duration",
    "friendly_errors",
    "iso",
    "now",
    "parse_duration",
    "read_input",
    "read_token",
    "relative",
    "safe_json",
]

#: The hidden way to fix "now" (epoch seconds or ISO-8601 UTC), for tests and demos.
NOW_ENV = "JOT_NOW"

#: What :func:`iso` gives for a time that no calendar date can show.
OUT_OF_RANGE = "out of range"

#: Inputs (tokens, key files, JWKS) larger than this are refused before they are parsed.
MAX_INPUT = 1024 * 1024


class CommandError(click.ClickException):
    """A usage or environment error: printed as one line, exit status 2."""

    exit_code = 2


class TokenRejected(click.ClickException):
    """The token is invalid: printed as one line, exit status 1."""

    exit_code = 1


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn jot, OS and decoding errors into one-line click errors (never a traceback)."""
    try:
        yield
    except InvalidTokenError as exc:
        raise TokenRejected(f"invalid token ({exc.error}): {exc.description}") from None
    except JoseError as exc:
        raise CommandError(exc.description) from None
    except JotError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise CommandError(f"{exc.strerror or exc}{where}") from None
    except UnicodeError:
        raise CommandError("the input is not valid UTF-8 text") from None


def now() -> float:
    """The current time: ``$JOT_NOW`` when set (for tests), else the system clock."""
    fixed = os.environ.get(NOW_ENV)
    if not fixed:
        return time.time()
    try:
        return float(fixed)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(fixed.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{NOW_ENV} is neither epoch seconds nor an ISO-8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def parse_duration(text: str, *, option: str) -> float:
    """Seconds from ``"300"``, ``"90s"``, ``"5m"``, ``"1h30m"`` or ``"2d"``."""
    value = text.strip().lower()
    bad = CommandError(f"{option}: {text!r} is not a duration like 300, 90s, 5m or 1h30m")
    try:
        seconds = float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        if not value or "".join(number + unit for number, unit in parts) != value:
            raise bad from None
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    # float() also reads "inf", "nan" and "1e400" (and 400 digits are infinite too): no
    # duration, and a traceback wherever it is rounded.
    if not math.isfinite(seconds):
        raise bad
    return seconds


def format_duration(seconds: float) -> str:
    """A short human duration: ``"42s"``, ``"4m 12s"``, ``"3h"``, ``"2d 1h"``."""
    total = round(abs(seconds))
    if total < 60:
        return f"{total}s"
    big, small, big_name, small_name = (
        (60, 1, "m", "s")
        if total < 3600
        else (3600, 60, "h", "m")
        if total < 86400
        else (86400, 3600, "d", "h")
    )
    head, rest = divmod(total, big)
    tail = rest // small
    return f"{head}{big_name} {tail}{small_name}" if tail else f"{head}{big_name}"


def relative(moment: float, current: float) -> str:
    """``"in 4m 12s"`` for the future, ``"3h ago"`` for the past, ``"now"`` within a second;
    ``"at a time out of range"`` for one no calendar shows (``1e400`` is infinite)."""
    if iso(moment) == OUT_OF_RANGE:
        return f"at a time {OUT_OF_RANGE}"
    # Whole seconds of "now", so that a token issued at the current second reads "5m", not
    # "4m 59s".
    delta = moment - math.floor(current)
    if abs(delta) < 1:
        return "now"
    return f"in {format_duration(delta)}" if delta > 0 else f"{format_duration(delta)} ago"


def iso(moment: float) -> str:
    """ISO-8601 UTC with a ``Z``, to the second."""
    try:
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return OUT_OF_RANGE


# Characters that json.dumps(ensure_ascii=False) leaves as they are but a terminal may act on:
# DEL and the C1 controls (U+009B is a one-character CSI), and the bidi overrides and
# isolates that reorder what is shown ("Trojan Source").
_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_json(value: Any, *, indent: int | None = 2) -> str:
    """JSON text that is safe on a terminal: readable Unicode, control characters escaped.

    The escaped characters can only occur inside JSON strings, so the text stays valid JSON.
    """
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def read_input(source: str, *, what: str) -> bytes:
    """The bytes of a file, or of stdin for ``"-"``, refusing anything over :data:`MAX_INPUT`."""
    if source == "-":
        data = sys.stdin.buffer.read(MAX_INPUT + 1)
    else:
        with open(source, "rb") as file:
            data = file.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise CommandError(f"the {what} is larger than {MAX_INPUT} bytes")
    return data


def read_token(token: str | None) -> str:
    """The token argument, or stdin when it is ``"-"`` or missing; one stripped line.

    A token over :data:`MAX_INPUT` is a malformed token (exit 1), as it is from jot.jose.
    """
    if token is None or token == "-":
        if token is None and sys.stdin.isatty():
            raise CommandError("give a token as an argument, or pipe one on stdin")
        try:
            token = read_input("-", what="token").decode("utf-8")
        except CommandError as exc:
            raise TokenRejected(f"invalid token (malformed): {exc.message}") from None
        except UnicodeDecodeError:
            raise TokenRejected("invalid token (malformed): the token is not UTF-8 text") from None
    token = token.strip()
    # Accept a pasted Authorization header value as well as the bare token.
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        raise CommandError("the token is empty")
    return token
