"""The token tools' helpers: durations, relative times, the fixed clock, safe JSON."""

from __future__ import annotations

import json

import pytest

from jot.cli.tokens._common import (
    CommandError,
    format_duration,
    iso,
    now,
    parse_duration,
    relative,
    safe_json,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("300", 300), ("2.5", 2.5), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2d", 172800),
     (" 1H ", 3600), ("1m30s", 90)],
)  # fmt: skip
def test_parse_duration(text, seconds):
    assert parse_duration(text, option="--x") == seconds


@pytest.mark.parametrize(
    "text",
    ["", "m", "5 m", "5w", "1h-5m", "soon", "5m5", "inf", "-inf", "nan", "1e400", "9" * 400 + "d"],
)
def test_parse_duration_rejects(text):
    with pytest.raises(CommandError, match="--x"):
        parse_duration(text, option="--x")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.4, "59s"), (60, "1m"), (252, "4m 12s"), (3600, "1h"), (10805, "3h"),
     (5400, "1h 30m"), (86400 * 2 + 3600, "2d 1h"), (-252, "4m 12s")],
)  # fmt: skip
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_relative():
    assert relative(1000, 1000.9) == "now"
    assert relative(1252, 1000) == "in 4m 12s"
    assert relative(1000 - 3 * 3600, 1000) == "3h ago"


def test_iso_and_out_of_range():
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(2**70) == "out of range"


def test_now_from_env(monkeypatch):
    monkeypatch.setenv("JOT_NOW", "1800000000")
    assert now() == 1_800_000_000
    monkeypatch.setenv("JOT_NOW", "2027-01-15T08:00:00")
    assert now() == 1_800_000_000
    monkeypatch.setenv("JOT_NOW", "2027-01-15T09:00:00+01:00")
    assert now() == 1_800_000_000
    monkeypatch.delenv("JOT_NOW")
    assert now() > 1_700_000_000


def test_safe_json_stays_valid_json():
    value = {"k\u202e": ["é", "\x1b", "\x9b", "\u2066"]}
    text = safe_json(value)
    assert json.loads(text) == value
    assert "é" in text
    for bad in ("\x1b", "\x9b", "\u202e", "\u2066"):
        assert bad not in text
