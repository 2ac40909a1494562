"""Tables for people, JSON for scripts: how commands print what a server sent.

Text from a server can hold anything a client of that server once sent (a provider's error
parameter, a name from before names were checked): :func:`printable` escapes control and
format characters, so an ESC sequence or a bidi override never reaches the terminal as
such, and tables never interpret rich markup. JSON output escapes them by itself.

Two more rules hold in every table. A value that people copy into another command (an id, a
name) is never cut or folded: the other columns give way, and when even that is not enough the
table is wider than the terminal rather than shorter than its ids. A time carries its time
zone (shown in the local one).
"""

from __future__ import annotations

import json
import shutil
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import click

__all__ = [
    "COPIED",
    "cell",
    "print_items",
    "print_json",
    "print_lines",
    "print_table",
    "printable",
    "say",
]

#: Columns whose values people type into other commands: shown whole, on one line.
COPIED = frozenset(
    {"id", "kid", "name", "subject", "role", "resource", "identity", "made with", "client id"}
)
#: The narrowest a column that may fold is squeezed to (a date still fits on a line).
_FOLDED_MIN = 10
# Control (Cc) and format (Cf: bidi overrides, zero-width) characters.
_UNPRINTABLE = frozenset({"Cc", "Cf"})


def printable(text: str) -> str:
    """``text`` with every control or format character written as an escape (``\\x1b``)."""
    if text.isprintable():  # The common case: nothing to do.
        return text
    return "".join(
        repr(ch)[1:-1] if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in text
    )


def say(message: str) -> None:
    """One line for a person, made :func:`printable`."""
    click.echo(printable(message))


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    if isinstance(value, list | tuple):
        return ", ".join(printable(str(v)) for v in value) or "-"
    if isinstance(value, dict):
        return " ".join(f"{printable(str(k))}={printable(str(v))}" for k, v in value.items()) or "-"
    return printable(str(value))


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def print_lines(rows: Sequence[Sequence[Any]]) -> None:
    """Tab-separated lines, one per row (scripts, pipes, and ``audit --follow``)."""
    for row in rows:
        click.echo("\t".join(cell(v) for v in row))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table on a terminal; tab-separated lines with a header otherwise."""
    if not sys.stdout.isatty():
        print_lines([[h.upper() for h in headers], *rows])
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    table = Table(box=None, header_style="bold")
    needed = 0
    for header, width in zip(headers, widths, strict=True):
        if header in COPIED:
            table.add_column(header, no_wrap=True, min_width=width)
        else:
            table.add_column(header, overflow="fold", min_width=min(width, _FOLDED_MIN))
        needed += (width if header in COPIED else min(width, _FOLDED_MIN)) + 2
    for row in cells:
        # Text, not str: "[link=…]" in a value is shown, never taken as rich markup.
        table.add_row(*(Text(value) for value in row))
    Console(width=max(shutil.get_terminal_size().columns, needed)).print(table)


def print_items(
    result: Any, as_json: bool, headers: list[str], row: Callable[[Any], list[Any]]
) -> None:
    """A list answer (``result.items``) as a table, or as JSON."""
    items = result.items
    if as_json:
        print_json([item.model_dump(mode="json") for item in items])
    else:
        print_table(headers, [row(item) for item in items])
