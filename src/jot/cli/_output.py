"""Tables for people, JSON for scripts: how commands print what a server sent.

Text from a server can hold anything a client of that server once sent (a provider's error
parameter, a name from before names were checked): :func:`printable` escapes control and
format characters, so an ESC sequence or a bidi override never reaches the terminal as
such, and tables never interpret rich markup. JSON output escapes them by itself.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

__all__ = ["cell", "print_json", "print_table", "printable", "say"]

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
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(printable(str(v)) for v in value) or "-"
    if isinstance(value, dict):
        return " ".join(f"{printable(str(k))}={printable(str(v))}" for k, v in value.items()) or "-"
    return printable(str(value))


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table on a terminal; tab-separated lines with a header otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(*headers, box=None, header_style="bold")
        for row in rows:
            # Text, not str: "[link=…]" in a value is shown, never taken as rich markup.
            table.add_row(*(Text(cell(v)) for v in row))
        Console().print(table)
        return
    click.echo("\t".join(h.upper() for h in headers))
    for row in rows:
        click.echo("\t".join(cell(v) for v in row))
