"""The one rendering helper: control and format characters never reach the terminal."""

from __future__ import annotations

import sys
from datetime import datetime

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
    assert cell(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04:05"


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
