"""The one rendering helper: control and format characters never reach the terminal, and
times carry their time zone (the local one)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import click
import pytest
from click.testing import CliRunner

from jot.cli._output import cell, print_table, printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, ünïcode", "plain text, ünïcode"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("nul\x00byte", "nul\\x00byte"),
        ("tab\tand\nnewline", "tab\\tand\\nnewline"),
        ("c1 \x9b csi", "c1 \\x9b csi"),
        ("bidi \u202eevil", "bidi \\u202eevil"),
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_cells_escape_every_part() -> None:
    assert cell({"message": "\x1b[2J", "\x07": 1}) == "message=\\x1b[2J \\x07=1"
    assert cell(["a\x1b", "b"]) == "a\\x1b, b"
    assert cell(None) == "-"


VALUE = "[bold]x[/bold]\x1b[31m"


def test_plain_tables_escape() -> None:
    @click.command()
    def show() -> None:
        print_table(["name"], [[VALUE]])

    assert CliRunner().invoke(show).output == "NAME\n[bold]x[/bold]\\x1b[31m\n"


def test_terminal_tables_escape_and_take_no_markup(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    print_table(["name"], [[VALUE]])
    out = capsys.readouterr().out
    assert "[bold]x[/bold]\\x1b[31m" in out  # Shown as written, not as bold text.


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("tz", "winter", "summer"),
    [
        ("UTC", "2026-01-15 08:00:00 UTC", "2026-07-15 08:00:00 UTC"),
        ("Europe/Berlin", "2026-01-15 09:00:00 CET", "2026-07-15 10:00:00 CEST"),
        ("America/New_York", "2026-01-15 03:00:00 EST", "2026-07-15 04:00:00 EDT"),
    ],
)
def test_times_are_local_with_their_zone(
    zone: None, monkeypatch: pytest.MonkeyPatch, tz: str, winter: str, summer: str
) -> None:
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    assert cell(datetime(2026, 1, 15, 8, tzinfo=UTC)) == winter
    assert cell(datetime(2026, 7, 15, 8, tzinfo=UTC)) == summer
    assert cell(datetime(2026, 1, 15, 8)) == winter  # A time without a zone is UTC.
