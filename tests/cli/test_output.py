"""Table cells: times carry their time zone (the local one)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from jot.cli._output import cell


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
