"""Issue 13 item 1, the destinations' part: forward auth with its deny-list and replay store
in a Redis of the test's own, which is killed, restarted empty and frozen.

- A denied token stays denied while Redis is down (the last known list) and after Redis
  restarts empty (the store writes the list back; a replica that starts afterwards sees it).
- Valid tokens go on being accepted while Redis is down; with ``fail_closed`` every request
  gets a 503 instead. Never a 500, and a hung Redis costs no request more than its timeout.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from jot.destination.forward_auth import ForwardAuth
from jot.destination.grants import FileGrants
from jot.destination.redis_stores import AsyncRedisStore, RedisStore
from jot.destination.verifier import AsyncVerifier
from tests.destination.authority import FakeAuthority
from tests.destination.servers import serve_in_thread

from .procs import OwnRedis, own_redis

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[OwnRedis]:
    with own_redis(tmp_path / "redis") as server:
        yield server


def _forward_auth(authority: FakeAuthority, url: str, tmp_path: Path, **options: Any) -> Any:
    """Forward auth on a store of its own, closed with the app (uvicorn's lifespan)."""
    tmp_path.mkdir(exist_ok=True)
    grants = tmp_path / "grants.toml"
    grants.write_text('[[grants]]\nsubject = "user:alice@example.com"\nrole = "admin"\n'
                      'resource = "web"\n')  # fmt: skip
    store = AsyncRedisStore.from_url(url, sync_every=0.5, retry_every=0.5, **options)
    verifier = AsyncVerifier(
        audience="web",
        jwks={"keys": [authority.signing_key.public().to_dict()]},
        grants=FileGrants(grants),
        deny_list=store,
        replay=store,
    )
    app = ForwardAuth(verifier)

    async def closing(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await store.aclose()
        await send({"type": "lifespan.shutdown.complete"})

    return closing


@contextlib.contextmanager
def _serving(app: Any) -> Iterator[tuple[str, httpx.Client]]:
    with serve_in_thread(app, lifespan="on") as url, httpx.Client(timeout=5) as http:
        yield url, http


def _status(http: httpx.Client, url: str, token: str) -> int:
    return http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_denied_token_stays_denied_through_redis_outages(redis_server, tmp_path):
    authority = FakeAuthority()
    denied, valid = authority.token(sub="u_mallory"), authority.token
    app = _forward_auth(authority, redis_server.url, tmp_path)
    with _serving(app) as (url, http):
        assert _status(http, url, valid()) == 200
        # An operator denies a subject through another store (another replica, a tool).
        writer = RedisStore.from_url(redis_server.url)
        writer.deny_subject("u_mallory", until=time.time() + 300)
        writer.close()
        assert _status(http, url, denied) == 401
        time.sleep(1.0)  # A sync (every 0.5 s): the entry is in the last known list.
        assert _status(http, url, denied) == 401

        redis_server.stop()
        statuses = [_status(http, url, valid()) for _ in range(20)]
        assert statuses == [200] * 20  # Valid tokens, each used once: accepted.
        assert _status(http, url, denied) == 401  # From the last known list.

        redis_server.start()  # Empty.
        # After the retry interval a sync writes the list back (within seconds).
        check = redis.Redis.from_url(redis_server.url)
        deadline = time.monotonic() + 10
        while not check.exists("jot:dest:deny:sub:u_mallory"):
            assert _status(http, url, denied) == 401
            assert time.monotonic() < deadline, "the list was not written back"
            time.sleep(0.1)
        check.close()
        assert _status(http, url, valid()) == 200
    # A replica that starts now knows only what Redis has: the entry was written back.
    fresh = _forward_auth(authority, redis_server.url, tmp_path / "fresh")
    with _serving(fresh) as (url, http):
        assert _status(http, url, denied) == 401
        assert _status(http, url, valid()) == 200


def test_fail_closed_answers_503_while_redis_is_down_or_hung(redis_server, tmp_path):
    authority = FakeAuthority()
    app = _forward_auth(authority, redis_server.url, tmp_path, fail_closed=True)
    with _serving(app) as (url, http):
        assert _status(http, url, authority.token()) == 200
        redis_server.freeze()
        started = time.monotonic()
        hung = [_status(http, url, authority.token()) for _ in range(10)]
        assert hung == [503] * 10
        assert time.monotonic() - started < 2  # One short timeout, then at once.
        redis_server.thaw()
        redis_server.stop()
        assert {_status(http, url, authority.token()) for _ in range(5)} == {503}
        redis_server.start()
        deadline = time.monotonic() + 5
        while _status(http, url, authority.token()) != 200:
            assert time.monotonic() < deadline, "no recovery"
            time.sleep(0.1)
