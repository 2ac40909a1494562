"""CPU per token request inside one process: the authority's ASGI app called straight (no
sockets, no load generator sharing the cores), for A/B comparisons of the token path.

``bench/authority.py`` is the record (real servers, real sockets, ratios to a bare endpoint);
this driver answers a narrower question with less noise: how many µs of this process's CPU
(every thread: the event loop, the check lane, the audit writer) one ``POST /api/tokens``
costs. 32 coroutines send requests to the app; a pass is ``--requests`` of them, its cost
``time.process_time()`` over the pass divided by the requests; the best of ``--passes`` is
printed (the machine's other load only ever adds).

Rows (the same directory as bench/authority.py's, ``bench/_directory.py``):

* ``same key``: the bootstrap admin's key again and again (the caches answer);
* ``cache miss``: users' keys round-robin (in group ``g0``), for ``bench``;
* ``10 grants``: the same for ``g10`` (group narrowing on);
* ``50,000 grants``: the same for ``g50k`` (too many group grants to keep: searched);
* ``200 groups``: users in 200 of 2,000 groups, for ``g10``.

Each miss pool is large enough that no key comes back within the caches' life (1 s) at the
rates printed. ``--steps`` prints instead what each read and step of a cache-missing check
costs single-threaded, for a user in one group and one in 200 (µs, mean over every user of
each pool, best of the passes). Usage: ``.venv/bin/python bench/inprocess.py [--rows "same
key;200 groups"] [--steps]``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import itertools
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _directory
from sqlalchemy import text

from jot.api.roles import decide, granting_groups
from jot.authority import access, revocations, tokens
from jot.authority.app import create_app, open_authority
from jot.authority.authcache import GroupNames
from jot.authority.clock import to_datetime
from jot.authority.settings import load_settings

ROWS = ("same key", "cache miss", "10 grants", "50,000 grants", "200 groups")
CONNECTIONS = 32


def request(app: Any, key: str, destination: str) -> Callable[[], Any]:
    """A coroutine function sending one token request to ``app``; it fails on a non-2xx."""
    body = json.dumps({"destination": destination}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/tokens", "raw_path": b"/api/tokens",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {key}".encode()),
        ],
    }  # fmt: skip

    async def one() -> None:
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # Nothing more: the client stays connected.
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope), receive, send)
        if not 200 <= status < 300:
            raise RuntimeError(f"token request for {destination!r} answered {status}")

    return one


async def cpu_per_request(calls: Iterator[Callable[[], Any]], requests: int) -> float:
    """µs of this process's CPU per request over ``requests`` of them, 32 in flight."""
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await next(calls)()

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return (time.process_time() - start) * 1e6 / requests


async def measure(app: Any, rows: dict[str, list[Callable[[], Any]]], args: Any) -> None:
    async with app.router.lifespan_context(app):
        pools = {name: itertools.cycle(calls) for name, calls in rows.items()}
        best = dict.fromkeys(rows, float("inf"))
        for pool in pools.values():  # Warm-up: imports, the keyring, first statements.
            await cpu_per_request(pool, min(args.requests, 500))
        for _ in range(args.passes):  # Interleaved, as bench/authority.py's rounds.
            for name, pool in pools.items():
                await asyncio.sleep(1.1)  # The caches' life: a miss row starts cold.
                best[name] = min(best[name], await cpu_per_request(pool, args.requests))
    print(f"| row | CPU µs/request (best of {args.passes}) |\n|---|---:|")
    for name, value in best.items():
        print(f"| {name} | {value:,.0f} |")


def steps(authority: Any, passes: int) -> None:
    """The ``--steps`` table (see the module's description)."""
    known = GroupNames(ttl=3600)  # Warm for the whole run (the server's drops every second).
    with authority.db.reading() as db:
        users = db.execute(text("SELECT id, name FROM identities WHERE kind = 'machine'")).all()
        for me, _ in users:
            access.group_names(db, me, known)
    pools = {"1 group": [u for u in users if u[1][0] == "n"],
             "200 groups": [u for u in users if u[1][0] == "w"]}  # fmt: skip
    best: dict[str, dict[str, float]] = {}
    for _ in range(passes):
        for label, pool in pools.items():
            spent: dict[str, float] = {}
            for me, name in pool:
                with authority.db.reading() as db:
                    now = time.time()
                    timed = _Timed(spent)
                    ids = timed("group ids", access._GROUP_IDS.rows, db, {"me": me})[0][0]
                    names = timed("group names", known.names, ids.split(","))
                    names = timed("sort", sorted, names)
                    row = timed("destination", tokens._DESTINATION.first, db, {"name": "g10"})
                    member = timed("member set", frozenset, names)
                    shared = (authority.group_grants, row[-1])
                    held = functools.partial(access.held_grants, groups=member, shared=shared)
                    grants = timed("held grants", held, db, me, name, "g10")
                    denied = timed("deny entry", revocations.of_subject, db, me, to_datetime(now))
                    timed("rule", decide, name, member, "g10", grants, subject=me, denied=denied)
                    timed("granting", granting_groups, names, "g10", grants, now=now)
            for step, total in spent.items():
                mean = total * 1e6 / len(pool)
                mine = best.setdefault(label, {})
                mine[step] = min(mine.get(step, mean), mean)
    print("| step | " + " | ".join(best) + " |\n|---|" + "---:|" * len(best))
    for step in best["1 group"]:
        print(f"| {step} | " + " | ".join(f"{best[p][step]:.1f}" for p in best) + " |")


class _Timed:
    """Calls that add their wall time (one thread: its CPU) to ``spent`` by step."""

    def __init__(self, spent: dict[str, float]) -> None:
        self.spent = spent

    def __call__(self, step: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        result = call(*args, **kwargs)
        self.spent[step] = self.spent.get(step, 0.0) + time.perf_counter() - began
        return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", help="row names separated by ; (default: all)")
    parser.add_argument("--users", type=_positive, default=3_000, help="keys per miss pool")
    parser.add_argument("--requests", type=_positive, default=2_000, help="requests per pass")
    parser.add_argument("--passes", type=_positive, default=5)
    parser.add_argument("--steps", action="store_true", help="the steps of a check instead")
    args = parser.parse_args()
    if args.steps:
        args.rows = "200 groups"  # Its directory: both pools and the sweep's destinations.
    wanted = args.rows.split(";") if args.rows else list(ROWS)
    if unknown := set(wanted) - set(ROWS):
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}; rows are {', '.join(ROWS)}")
    with tempfile.TemporaryDirectory(prefix="jot-inprocess-") as work:
        run(args, wanted, Path(work))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run(args: argparse.Namespace, wanted: list[str], work: Path) -> None:
    settings = load_settings(data_dir=work, issuer="http://127.0.0.1:8000")
    started = open_authority(settings)
    try:
        sweep = set(ROWS[2:]) & set(wanted)  # Their destinations and the wide pool.
        pool = _directory.fill(settings.sqlalchemy_url, args.users, wide=args.users if sweep else 0)
        if args.steps:
            steps(started.authority, args.passes)
            return
        app = create_app(authority=started.authority)
        admin = started.bootstrap_key
        assert admin is not None
        keys = {
            "same key": ([admin], "bench"),
            "cache miss": (pool.narrow, "bench"),
            "10 grants": (pool.narrow, "g10"),
            "50,000 grants": (pool.narrow, "g50k"),
            "200 groups": (pool.wide, "g10"),
        }
        rows = {name: [request(app, k, keys[name][1]) for k in keys[name][0]] for name in wanted}
        gc.collect()  # As `jot server` does (server._freeze_startup_objects): what start-up
        gc.freeze()  # made stays out of the cyclic GC's scans.
        asyncio.run(measure(app, rows, args))
    finally:
        started.authority.close()


if __name__ == "__main__":
    main()
