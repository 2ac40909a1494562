from __future__ import annotations

import os
import secrets
import time

import pytest
import redis
import redis.asyncio

from jot.destination.errors import UnavailableError
from jot.destination.stores import AsyncRedisStore, MemoryStore, RedisStore

from .authority import Clock


def redis_url() -> str:
    url = os.environ.get("JOT_TEST_REDIS_URL")
    if not url:
        pytest.fail("JOT_TEST_REDIS_URL is not set (make test sets it)")
    return url


def test_memory_replay_forgets_after_expiry():
    clock = Clock()
    store = MemoryStore(clock=clock)
    assert store.first_use("a", clock.now + 5)
    assert not store.first_use("a", clock.now + 5)
    clock.advance(6)
    assert store.first_use("a", clock.now + 5)


def test_memory_replay_store_full_fails_closed():
    clock = Clock()
    store = MemoryStore(clock=clock, max_entries=2)
    store.first_use("a", clock.now + 5)
    store.first_use("b", clock.now + 5)
    with pytest.raises(UnavailableError):
        store.first_use("c", clock.now + 5)
    clock.advance(6)
    assert store.first_use("c", clock.now + 5)  # Expired entries were purged.


@pytest.mark.redis
def test_redis_store():
    client = redis.Redis.from_url(redis_url())
    store = RedisStore(client, prefix=f"jot:test:{secrets.token_hex(6)}:")
    try:
        assert store.first_use("t1", time.time() + 5)
        assert not store.first_use("t1", time.time() + 5)
        assert RedisStore(client, prefix=store._prefix).first_use("t2", time.time() + 5)
        assert not store.is_denied("t1", "u_alice")
        store.deny_subject("u_alice", until=time.time() + 5)
        assert store.is_denied("t9", "u_alice")
        store.deny_token("t3")
        assert store.is_denied("t3", "u_bob")
        assert not store.is_denied("t4", "u_bob")
    finally:
        for key in client.scan_iter(store._prefix + "*"):
            client.delete(key)
        client.close()


@pytest.mark.redis
@pytest.mark.anyio
async def test_async_redis_store():
    client = redis.asyncio.Redis.from_url(redis_url())
    store = AsyncRedisStore(client, prefix=f"jot:test:{secrets.token_hex(6)}:")
    try:
        assert await store.first_use("t1", time.time() + 5)
        assert not await store.first_use("t1", time.time() + 5)
        await store.deny_token("t2", until=time.time() + 5)
        assert await store.is_denied("t2", "u")
        assert not await store.is_denied("t3", "u")
    finally:
        async for key in client.scan_iter(store._prefix + "*"):
            await client.delete(key)
        await client.aclose()


@pytest.mark.redis
def test_replicas_share_replay_and_deny_list_through_redis():
    from jot.destination.verifier import Verifier
    from jot.jose import errors as jose_errors

    from .authority import FakeAuthority

    authority = FakeAuthority()
    client = redis.Redis.from_url(redis_url())
    prefix = f"jot:test:{secrets.token_hex(6)}:"
    jwks = {"keys": [authority.signing_key.public().to_dict()]}
    store = RedisStore(client, prefix=prefix)
    replicas = [
        Verifier(authority.issuer, audience="web", jwks=jwks, replay=store, deny_list=store)
        for _ in range(2)
    ]
    try:
        token = authority.token()
        replicas[0].verify(token)
        with pytest.raises(jose_errors.InvalidTokenError, match="used before"):
            replicas[1].verify(token)
        RedisStore(client, prefix=prefix).deny_subject("u_alice", until=time.time() + 30)
        with pytest.raises(jose_errors.InvalidTokenError, match="revoked"):
            replicas[1].verify(authority.token())
    finally:
        for key in client.scan_iter(prefix + "*"):
            client.delete(key)
        client.close()
