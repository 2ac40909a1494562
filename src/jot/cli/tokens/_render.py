"""What `jot decode` shows: a token's header, payload and times, for people or for scripts.

:func:`inspect_token` builds a JSON-able view (the ``--json`` output); :func:`render` prints it
for people, in colour only when stdout is a terminal. The signature is never checked here, and
both forms say so.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import click

from jot.cli.tokens._common import (
    MAX_INPUT,
    OUT_OF_RANGE,
    format_duration,
    iso,
    relative,
    safe_json,
)
from jot.cli.tokens._json import decode_json_unverified
from jot.jose.errors import MalformedTokenError
from jot.jose.hazmat import decode_unverified

__all__ = [
    "ENCRYPTED_WARNING",
    "UNCHECKED_WARNING",
    "Printer",
    "inspect_token",
    "render",
    "wants_colour",
]

UNCHECKED_WARNING = "warning: the signature was NOT checked (use `jot verify` with a key)"
ENCRYPTED_WARNING = "warning: nothing was decrypted or checked"

_TIME_CLAIMS = ("iat", "nbf", "exp")


def wants_colour() -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


class Printer:
    """Writes lines and JSON to stdout, through rich when colour is wanted."""

    def __init__(self, colour: bool) -> None:
        self._console: Any = None
        if colour:
            # Imported only when colour is wanted: rich is slow to import. It is forced on
            # because the caller has already decided that stdout is a terminal.
            from rich.console import Console

            self._console = Console(soft_wrap=True, highlight=False, force_terminal=True)

    def line(self, *segments: tuple[str, str | None]) -> None:
        """One line made of pieces of text, each with a rich style (or ``None``)."""
        if self._console is None:
            click.echo("".join(text for text, _ in segments))
            return
        from rich.text import Text

        self._console.print(Text.assemble(*((t, s or "") for t, s in segments)))

    def heading(self, text: str) -> None:
        """A section title."""
        self.line((text, "bold cyan"))

    def json(self, value: Any) -> None:
        """A JSON value, indented, highlighted on a terminal."""
        text = safe_json(value)
        if self._console is None:
            click.echo(text)
            return
        # Highlight our own (escaped) text: rich.json.JSON would parse and re-dump it,
        # undoing the escaping of terminal control characters.
        from rich.highlighter import JSONHighlighter

        self._console.print(JSONHighlighter()(text))


def _time_entry(name: str, value: Any, current: float) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": value}
    # math.isfinite only for floats: it cannot convert an int of 400 digits, a valid JSON number.
    number = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if isinstance(value, bool) or not number:
        entry["note"] = "not a NumericDate"
        return entry
    utc = iso(value)
    if utc == OUT_OF_RANGE:
        entry["note"] = "out of range"
        return entry
    when = relative(value, current)
    future = value > current
    entry.update(utc=utc, relative=when)
    entry["note"] = {
        "iat": f"issued {when} (in the future)" if future else f"issued {when}",
        "nbf": f"not valid yet, starts {when}" if future else f"valid since {when}",
        "exp": f"expires {when}" if future else f"expired {when}",
    }[name]
    return entry


def _status(times: dict[str, dict[str, Any]], current: float) -> str | None:
    exp = times.get("exp", {})
    nbf = times.get("nbf", {})
    if "utc" in exp and current >= exp["value"]:
        return "expired"
    if "utc" in nbf and current < nbf["value"]:
        return "not yet valid"
    return "within its validity window" if "utc" in exp else None


def _payload_view(payload: Any) -> Any:
    if not isinstance(payload, bytes):
        return payload
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return {"non_json_bytes": len(payload)}


def inspect_token(token: str, current: float) -> dict[str, Any]:
    """The ``--json`` view of a token; raises `jot.jose` errors for a malformed one."""
    details: dict[str, Any] = {}
    if token.startswith("{"):
        if len(token) > MAX_INPUT:
            raise MalformedTokenError(f"the token is larger than {MAX_INPUT} bytes")
        header, payload, encrypted, details = decode_json_unverified(token)
    else:
        header, payload = decode_unverified(token)
        encrypted = token.count(".") == 4
    view: dict[str, Any] = {
        "header": header,
        "payload": None if encrypted else _payload_view(payload),
        "encrypted": encrypted,
        "signature_checked": False,
        **{name: value for name, value in details.items() if value is not None},
    }
    if encrypted:
        # A nested JWT (RFC 7519 §5.2): what jot seals for a destination with a key.
        view["sealed"] = str(header.get("cty", "")).lower() in ("jwt", "application/jwt")
    claims = payload if isinstance(payload, dict) else {}
    times = {
        name: _time_entry(name, claims[name], current) for name in _TIME_CLAIMS if name in claims
    }
    view["times"] = times
    start = times.get("iat", times.get("nbf", {}))
    if "utc" in start and "utc" in times.get("exp", {}):
        view["lifetime_seconds"] = times["exp"]["value"] - start["value"]
    view["status"] = _status(times, current)
    view["now"] = iso(current)
    return view


def render(view: dict[str, Any], printer: Printer) -> None:
    """Print a view from :func:`inspect_token` for people."""
    if "serialization" in view:
        count = view.get("signatures", 1)
        first = "; the first one's headers are shown" if count > 1 else ""
        printer.line((f"{view['serialization']} serialization", "dim"), (first, "dim"))
        printer.line(("", None))
    printer.heading("Header")
    printer.json(view["header"])
    if "unprotected_header" in view:
        printer.line(("", None))
        printer.heading("Unprotected header")
        printer.json(view["unprotected_header"])
    printer.line(("", None))
    printer.heading("Payload")
    if view.get("sealed"):
        printer.line(
            ("(sealed: a signed token inside a JWE encrypted to the key ", "dim"),
            (safe_json(view["header"].get("kid", "-")), None),
            ("; only the destination's private key opens it: ", "dim"),
            ("jot decrypt --key KEY --in FILE | jot decode", None),
            (")", "dim"),
        )
    elif view["encrypted"]:
        printer.line(("(encrypted: this is a JWE; its content needs the recipient's key)", "dim"))
    elif isinstance(view["payload"], str):
        # As a JSON string: control characters are escaped, so the payload cannot drive
        # the terminal.
        printer.line(("(not JSON) ", "dim"), (safe_json(view["payload"]), None))
    else:
        printer.json(view["payload"])
    _render_times(view, printer)
    printer.line(("", None))
    warning = ENCRYPTED_WARNING if view["encrypted"] else UNCHECKED_WARNING
    printer.line((warning, "bold yellow"))


def _render_times(view: dict[str, Any], printer: Printer) -> None:
    times: dict[str, dict[str, Any]] = view["times"]
    if not times:
        return
    printer.line(("", None))
    printer.heading(f"Times (now {view['now']})")
    for name in _TIME_CLAIMS:
        if name in times:
            entry = times[name]
            when = entry.get("utc") or safe_json(entry["value"])[:40]
            good = entry["note"].startswith(("issued", "valid since", "expires"))
            style = "green" if good and "future" not in entry["note"] else "red"
            printer.line((f"  {name:<9}", "bold"), (f"{when:<21} ", None), (entry["note"], style))
    if "lifetime_seconds" in view:
        lifetime = view["lifetime_seconds"]
        shown = format_duration(lifetime) if lifetime >= 0 else "negative: exp is before iat"
        printer.line(("  lifetime ", "bold"), (shown, None if lifetime >= 0 else "red"))
    if view["status"]:
        bad = view["status"] != "within its validity window"
        printer.line(("  status   ", "bold"), (view["status"], "bold red" if bad else "green"))
