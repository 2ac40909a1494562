"""The token decision's cost follows the caller's own grants, not the destination's (issue 19,
"Done when"): with 50,000 grants on a destination, half of them time-bound, deciding for a
caller who holds one grant there costs about what it costs on a destination with ten. Ratios
within one run, medians of many calls (the machine may be busy)."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from jot.api.roles import Held, decide
from jot.authority import tokens
from jot.authority.authcache import Caller
from jot.authority.clock import to_datetime
from jot.authority.db import Database
from jot.authority.models import Base, Destination, Grant, Group, Identity, Membership

NOW = 1_800_000_000.0
BIG = 50_000


def _median(call, runs: int = 300) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _fill(db: Database) -> None:
    at = to_datetime(NOW)
    with db.engine.begin() as conn:
        me = {"id": "me", "name": "me", "name_key": "me", "kind": "user"}
        conn.execute(insert(Identity), [{**me, "created": at, "updated": at}])
        conn.execute(insert(Group), [
            {"id": f"g{i}", "name": f"g{i}", "name_key": f"g{i}", "created": at}
            for i in range(1000)
        ])  # fmt: skip
        conn.execute(insert(Membership), [{"group_id": "g0", "identity_id": "me"}])
        conn.execute(insert(Destination), [
            {"id": name, "name": name, "kind": "http", "lifetime": 300, "group_narrowing": "all",
             "created": at, "updated": at}
            for name in ("small", "big")
        ])  # fmt: skip
        rows = [
            {"id": f"{name}{i}", "identity_id": None, "group_id": f"g{1 + i % 999}",
             "role": f"r{i}", "resource": f"{name}.x{i}", "destination_id": name, "created": at,
             "expires": at + timedelta(hours=1) if i % 2 else None}
            for name, count in (("small", 10), ("big", BIG))
            for i in range(count)
        ]  # fmt: skip
        rows += [
            {"id": f"mine-{name}", "identity_id": "me", "group_id": None, "role": "viewer",
             "resource": name, "destination_id": name, "created": at,
             "expires": at + timedelta(hours=1)}
            for name in ("small", "big")
        ]  # fmt: skip
        conn.execute(insert(Grant), rows)


def test_the_authority_decision_ignores_others_grants(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'jot.db'}")
    Base.metadata.create_all(db.engine)
    _fill(db)
    me = Caller("me", "me", "user")
    try:
        with db.transaction(write=False) as session:
            for name in ("small", "big"):
                assert tokens.decide(session, me, ["g0"], name, now=NOW).until is not None
            small = _median(lambda: tokens.decide(session, me, ["g0"], "small", now=NOW))
            big = _median(lambda: tokens.decide(session, me, ["g0"], "big", now=NOW))
    finally:
        db.dispose()
    assert big < 3 * small, (small, big)


def test_the_destination_decision_ignores_others_grants() -> None:
    def index(count: int) -> dict[str, list[Held]]:
        found: dict[str, list[Held]] = {"user:me": [Held("web", "viewer", NOW + 60)]}
        for i in range(count):
            expires = NOW + 3600 if i % 2 else None
            found.setdefault(f"group:g{i % 999}", []).append(Held(f"web.x{i}", f"r{i}", expires))
        return found

    small, big = index(10), index(BIG)
    groups = ["ops", "dev"]
    assert decide("me", groups, "web", big, now=NOW).roles == {"viewer"}
    few = _median(lambda: decide("me", groups, "web", small, now=NOW), 2000)
    many = _median(lambda: decide("me", groups, "web", big, now=NOW), 2000)
    assert many < 3 * few, (few, many)
