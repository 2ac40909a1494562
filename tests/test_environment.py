"""The services that the suite needs must be there: missing ones fail the run, never skip it."""

from __future__ import annotations

import os

import psycopg
import pytest
import redis


def _url(name: str) -> str:
    url = os.environ.get(name)
    if not url:
        pytest.fail(f"{name} is not set: run the suite with `make test`")
    return url


def test_postgres_is_reachable() -> None:
    url = _url("JOT_TEST_POSTGRES_URL").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, connect_timeout=5) as connection:
        row = connection.execute("select 1").fetchone()
    assert row == (1,)


def test_redis_is_reachable() -> None:
    client = redis.Redis.from_url(_url("JOT_TEST_REDIS_URL"), socket_timeout=5)
    try:
        assert client.ping() is True
    finally:
        client.close()
