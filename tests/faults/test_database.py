"""Issue 13 item 6: bounded waits on PostgreSQL. A `jot server` on a PostgreSQL instance of
the test's own, under read, write and /readyz load, while that instance is frozen (SIGSTOP:
connections open, nothing answers) and then stopped: clean 503s within the configured
timeouts, /readyz bounded, one log line per outage, no acknowledged write lost, recovery
within 2 s."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from jot.authority.dbguard import GRACE
from jot.authority.handlers.health import READY_BUDGET
from tests.e2e.test_authority_support import run_server

from .load import Load
from .procs import own_postgres

pytestmark = pytest.mark.e2e

STATEMENT_TIMEOUT = 1.0
CONNECT_TIMEOUT = 2  # libpq's least
# The longest a request may wait on a hung database: a pooled connection's ping (statement
# timeout + grace), then one new connection (connect timeout), plus scheduling slack.
WORST = STATEMENT_TIMEOUT + GRACE + CONNECT_TIMEOUT + 1.0
RECOVERY = 2.0


def _create_group(acknowledged: list[str]):
    def request(http: httpx.Client, n: int) -> httpx.Response:
        response = http.post("/api/groups", json={"name": f"g{n}"})
        if response.status_code == 201:
            acknowledged.append(f"g{n}")
        return response

    return request


def _outage(tmp_path: Path, fault: str) -> None:
    with own_postgres() as pg:
        env = {
            "JOT_DATABASE_URL": pg.url,
            "JOT_DATABASE_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
            "JOT_DATABASE_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        }
        with run_server(tmp_path / "data", env=env) as server:
            key = server.admin_key()
            acknowledged: list[str] = []
            load = Load(server.url, {"Authorization": f"Bearer {key}"})
            load.add("read", lambda http, _n: http.get("/api/groups"), threads=2)
            load.add("write", _create_group(acknowledged), threads=2)
            load.add("ready", lambda http, _n: http.get("/readyz"))
            time.sleep(1.5)
            started = time.monotonic()
            if fault == "freeze":
                pg.freeze()
                time.sleep(5)
                pg.thaw()
            else:
                pg.stop()
                time.sleep(3)
                pg.start()
            back = time.monotonic()
            time.sleep(3)
            load.stop()
            with httpx.Client(base_url=server.url, headers=load.headers, timeout=10) as http:
                groups = {g["name"] for g in http.get("/api/groups").json()["items"]}
            log = server.log.read_text()

    during = [o for o in load.outcomes if started <= o.at < back]
    assert load.bad() == [], "answers other than 2xx/4xx/503"
    assert any(o.status == 503 for o in during), "the outage was not seen"
    # Bounded: no request waits longer than the timeouts allow; once the breaker is open the
    # others are answered at once, and /readyz always within its budget.
    assert max(o.took for o in load.outcomes) < WORST
    quick = [o for o in during if o.status == 503 and o.took < 0.5]
    assert len(quick) >= len([o for o in during if o.status == 503]) * 0.8
    assert max(o.took for o in load.of("ready")) < READY_BUDGET + 0.5
    # Recovery without a restart.
    for kind in ("read", "write", "ready"):
        caught_up = load.first_success_after(kind, back)
        assert caught_up is not None, kind
        assert caught_up < RECOVERY, (kind, caught_up)
    # Every acknowledged write is there.
    assert set(acknowledged) <= groups
    assert len(acknowledged) > 10
    # One line per outage (and one when it ends), not a traceback per request.
    assert "Traceback" not in log
    lines = [line for line in log.splitlines() if "database" in line]
    assert 1 <= len(lines) <= 6, lines


def test_a_frozen_database_gives_quick_503s_then_recovers(tmp_path: Path) -> None:
    _outage(tmp_path, "freeze")


@pytest.mark.soak  # make test: phase D of test_cluster.py stops PostgreSQL under load.
def test_a_stopped_database_gives_quick_503s_then_recovers(tmp_path: Path) -> None:
    _outage(tmp_path, "stop")
