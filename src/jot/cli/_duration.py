"""Durations on every command line: ``300``, ``90s``, ``5m``, ``2h``, ``30d``, ``1h30m``.

One parser (the token tools' :func:`~jot.cli.tokens._common.parse_duration`) behind one click
type, so that every duration flag takes the same spellings.
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["Duration"]


class Duration(click.ParamType[int]):
    """Whole seconds from a duration, within ``[minimum, maximum]``."""

    name = "duration"

    def __init__(self, minimum: int = 0, maximum: int | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            seconds = value
        else:
            from jot.cli.tokens._common import CommandError, parse_duration

            try:
                seconds = round(parse_duration(str(value), option=str(value)))
            except CommandError:
                self.fail(f"{value!r} is not a duration like 300, 90s, 5m, 2h or 30d", param, ctx)
        if seconds < self.minimum or (self.maximum is not None and seconds > self.maximum):
            top = f" and {self.maximum}" if self.maximum is not None else ""
            self.fail(f"{value} is not between {self.minimum}{top} seconds", param, ctx)
        return seconds
