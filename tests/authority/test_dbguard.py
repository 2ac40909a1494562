"""The database guard's rules without a database: which errors open the breaker, how it
fails fast and lets one probe through, and the one-line-per-outage log."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from jot._outage import OutageLog
from jot.authority.dbguard import DatabaseUnavailable, Guard, postgres_connect_args


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Refused(Exception):
    sqlstate = None


class _Canceled(Exception):
    sqlstate = "57014"  # query_canceled: the server answered


def _error(orig: Exception) -> OperationalError:
    return OperationalError("SELECT 1", None, orig)


def test_the_breaker_fails_fast_then_lets_one_probe_through():
    tick = Tick()
    guard = Guard(enabled=True, retry_every=1.0, clock=tick)
    guard.before()  # Closed: nothing happens.
    guard.failed(_error(_Refused("connection refused")))
    with pytest.raises(DatabaseUnavailable):
        guard.before()
    tick.now += 1.0
    guard.before()  # The probe.
    with pytest.raises(DatabaseUnavailable):
        guard.before()  # The others wait for its answer.
    guard.succeeded()
    guard.before()
    guard.before()


def test_only_failures_to_reach_the_database_open_it():
    guard = Guard(enabled=True, clock=Tick())
    guard.failed(_error(_Canceled("canceling statement due to statement timeout")))
    guard.failed(ValueError("not the database's"))
    guard.before()
    guard.failed(PoolTimeout("QueuePool limit reached"))
    with pytest.raises(DatabaseUnavailable):
        guard.before()


def test_sqlite_never_opens_it():
    guard = Guard(enabled=False, clock=Tick())
    guard.failed(_error(_Refused("disk I/O error")))
    guard.before()


def test_the_outage_is_logged_once_then_once_per_interval_then_its_end(caplog):
    tick = Tick()
    outage = OutageLog(logging.getLogger("jot.test"), "database", every=60, clock=tick)
    caplog.set_level(logging.WARNING, logger="jot.test")
    for _ in range(100):
        outage.failed(_Refused("connection refused\nIs the server running?"))
        tick.now += 0.1
    tick.now += 60
    outage.failed(_Refused("connection refused"))
    outage.ok()
    outage.ok()
    assert [r.getMessage() for r in caplog.records] == [
        "database failed: connection refused (said again every 60 s while it lasts)",
        "database still failing after 70 s (100 more failures): connection refused",
        "database works again after 70 s",
    ]


def test_the_urls_own_options_are_kept():
    url = "postgresql+psycopg://u@h/db?options=-csearch_path%3Ds1"
    assert postgres_connect_args(url, 5, 2.5) == {
        "connect_timeout": 5,
        "options": "-csearch_path=s1 -c statement_timeout=2500",
    }
