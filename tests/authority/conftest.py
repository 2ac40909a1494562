"""Fixtures: an authority on a fresh database (SQLite and PostgreSQL) behind httpx's ASGI
transport, a fake clock, and clients for the bootstrap admin and for fresh users."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jot.authority.app import Started, create_app, open_authority
from jot.authority.authcache import AuthCache
from jot.authority.clock import FakeClock
from jot.authority.settings import Settings

from .helpers import database_url

ISSUER = "http://authority.test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=float(int(time.time())))


@pytest.fixture
def settings_factory(db_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": db_url,
            "issuer": ISSUER,
            "lockout_base": 1.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
def started(settings: Settings, clock: FakeClock) -> Iterator[Started]:
    result = open_authority(settings, clock=clock)
    yield result
    result.authority.close()


@pytest.fixture
def admin_key(started: Started) -> str:
    assert started.bootstrap_key is not None
    return started.bootstrap_key


@pytest.fixture
async def client(started: Started) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous client."""
    app = create_app(authority=started.authority)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
        yield http


@pytest.fixture
async def admin(client: httpx.AsyncClient, admin_key: str) -> httpx.AsyncClient:
    """The same transport, authenticated as the bootstrap admin."""
    client.headers["Authorization"] = f"Bearer {admin_key}"
    return client


@pytest.fixture
async def replica(
    settings: Settings, clock: FakeClock, started: Started
) -> AsyncIterator[tuple[httpx.AsyncClient, Started]]:
    """A second authority process on the same database, without the 1 s caches of key checks
    and decisions: what it keeps beyond them (groups, group grants) must not go stale."""
    other = open_authority(settings, clock=clock)
    other.authority.auth_cache = AuthCache(ttl=0)
    other.authority.decisions = AuthCache(ttl=0)
    transport = httpx.ASGITransport(app=create_app(authority=other.authority))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
            yield http, other
    finally:
        other.authority.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
