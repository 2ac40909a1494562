"""A large directory for bench/authority.py, written straight into the authority's database.

Through the API, 50,000 grants and 200,000 memberships would take longer than the benchmark;
the rows are the same (ids, names and their folded keys, hashed access-key secrets) as the
handlers write. The server caches nothing that these rows change (destinations and grants
are read per decision), so it may run while they are written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, create_engine, insert, select

from jot.api.identities import fold_name
from jot.authority.credentials import hash_secret, new_access_key, new_id
from jot.authority.models import AccessKey, Destination, Grant, Group, Identity, Membership

__all__ = ["Directory", "fill"]

#: Destinations of the sweep: name → how many grants it holds (one of them is the users').
SWEEP = {"g10": 10, "g1k": 1_000, "g50k": 50_000, "g50kt": 50_000}
#: The sweep's destinations where every other one of the others' grants is time-bound (issue
#: 19: the decision cost must not grow with them either). None lapses during a run: the
#: authority's lapse sweep (a delete and an audit record each) would count in the row's CPU.
TIME_BOUND = {"g50kt"}
#: Groups in all; the users of the second pool are members of the first ``WIDE`` of them.
GROUPS, WIDE = 2_000, 200
#: Destinations in all (the sweep's and idle ones).
DESTINATIONS = 5_000


@dataclass
class Directory:
    """Access keys of two pools of users: members of one group, and of ``WIDE`` groups."""

    narrow: list[str] = field(default_factory=list)
    wide: list[str] = field(default_factory=list)


def fill(url: str, users: int, *, wide: int = 0) -> Directory:
    """Write ``users`` users with a key each (in group ``g0``) who may have tokens for
    ``bench`` (as may ``admin``) and, when ``wide``, the sweep's destinations and a second
    pool of ``wide`` users in ``WIDE`` groups; returns their access keys."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    sweep = wide > 0
    try:
        with engine.begin() as db:
            group_ids = [new_id() for _ in range(GROUPS if sweep else 1)]
            _put(
                db,
                Group,
                ({"id": g, **_name(f"g{i}"), "created": now} for i, g in enumerate(group_ids)),
            )
            names = ["bench", *(SWEEP if sweep else ()), *_idle(sweep)]
            dest_ids = {name: new_id() for name in names}
            _put(
                db,
                Destination,
                (_destination(dest_id, name, now) for name, dest_id in dest_ids.items()),
            )
            _put(db, Grant, _grants(dest_ids, group_ids, now, sweep))
            admin = db.execute(select(Identity.id).where(Identity.name_key == "admin")).scalar()
            _put(db, Grant, [_admin_grant(admin, dest_ids["bench"], now)])
            directory = Directory()
            directory.narrow = _users(db, "n", users, group_ids[:1], now)
            if sweep:
                directory.wide = _users(db, "w", wide, group_ids[:WIDE], now)
    finally:
        engine.dispose()
    return directory


def _admin_grant(admin: str, bench: str, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(), "identity_id": admin, "group_id": None, "role": "user",
        "resource": "bench", "destination_id": bench, "created": now,
    }  # fmt: skip


def _idle(sweep: bool) -> list[str]:
    return [f"idle{i}" for i in range(DESTINATIONS - 1 - len(SWEEP))] if sweep else []


def _put(db: Any, model: Any, rows: Iterable[dict[str, Any]]) -> None:
    table: Table = model.__table__
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == 5_000:
            db.execute(insert(table), batch)
            batch = []
    if batch:
        db.execute(insert(table), batch)


def _name(name: str) -> dict[str, str]:
    return {"name": name, "name_key": fold_name(name)}


def _destination(dest_id: str, name: str, now: datetime) -> dict[str, Any]:
    narrowing = "grants" if name in SWEEP else "all"
    return {
        "id": dest_id, "name": name, "kind": "http", "lifetime": 300,
        "group_narrowing": narrowing, "created": now, "updated": now,
    }  # fmt: skip


def _grants(
    dest_ids: dict[str, str], group_ids: list[str], now: datetime, sweep: bool
) -> Iterator[dict[str, Any]]:
    def grant(group: str, role: str, name: str) -> dict[str, Any]:
        return {
            "id": new_id(), "identity_id": None, "group_id": group, "role": role,
            "resource": name, "destination_id": dest_ids[name], "created": now, "expires": None,
        }  # fmt: skip

    yield grant(group_ids[0], "user", "bench")
    for name, count in SWEEP.items() if sweep else ():
        yield grant(group_ids[0], "user", name)
        # The others' grants: every group but g0, a role per pass (unique per group).
        others = group_ids[1:]
        for i in range(count - 1):
            row = grant(others[i % len(others)], f"r{i // len(others)}", name)
            if name in TIME_BOUND and i % 2 == 0:
                row["expires"] = now + timedelta(hours=1 if i % 4 == 0 else 2)
            yield row


def _users(db: Any, prefix: str, count: int, groups: list[str], now: datetime) -> list[str]:
    identities, keys, members, full_keys = [], [], [], []
    for i in range(count):
        identity = new_id()
        key_id, secret, full = new_access_key()
        identities.append({"id": identity, **_name(f"{prefix}{i}"), "kind": "machine",
                           "password_hash": None, "created": now, "updated": now})  # fmt: skip
        keys.append({"id": key_id, "identity_id": identity, "name": "bench",
                     "secret_hash": hash_secret(secret), "created": now, "expires": None,
                     "inactivity_timeout": None, "last_used": now, "revoked": None})  # fmt: skip
        members += [{"group_id": g, "identity_id": identity} for g in groups]
        full_keys.append(full)
    _put(db, Identity, identities)
    _put(db, AccessKey, keys)
    _put(db, Membership, members)
    return full_keys
