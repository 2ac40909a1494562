"""The web console's browser sessions (issue 17): idle timeout, absolute lifetime and the
``__Host-`` cookie on https, on a fake clock (the browser tests in tests/web use real time)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from jot.authority.app import Started, open_authority
from jot.authority.clock import FakeClock
from jot.authority.models import AuditEvent
from jot.authority.settings import Settings

from .pages import signed_in

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(web_session_idle=600, web_session_lifetime=1800)


async def _signed_in(started: Started, admin_key: str, base: str) -> httpx.AsyncClient:
    http = await signed_in(started, "alice", PASSWORD, base, make=admin_key)
    assert (await http.get("/")).status_code == 200
    return http


def _ended(started: Started) -> list[dict]:
    with started.authority.db.transaction(write=False) as db:
        rows = db.scalars(select(AuditEvent).where(AuditEvent.kind == "web.session.ended"))
        return [json.loads(row.detail) for row in rows]


async def test_a_session_ends_after_the_idle_timeout(
    started: Started, admin_key: str, clock: FakeClock
) -> None:
    http = await _signed_in(started, admin_key, "http://authority.test")
    clock.advance(590)
    assert (await http.get("/")).status_code == 200  # Each request keeps it alive.
    clock.advance(590)
    assert (await http.get("/")).status_code == 200
    clock.advance(601)
    gone = await http.get("/")
    assert (gone.status_code, gone.headers["location"]) == (303, "/sign-in")
    assert 'jot_session=""' in gone.headers["set-cookie"]  # The browser drops it too.
    assert [e["reason"] for e in _ended(started)] == ["idle"]
    assert _ended(started)[0]["revoked_access_keys"]  # Its key is revoked with it.
    await http.aclose()


async def test_a_session_ends_at_its_lifetime_however_busy(
    started: Started, admin_key: str, clock: FakeClock
) -> None:
    http = await _signed_in(started, admin_key, "http://authority.test")
    for _ in range(5):
        clock.advance(350)
        assert (await http.get("/")).status_code == 200
    clock.advance(100)  # 1850 s after sign-in.
    assert (await http.get("/")).status_code == 303
    assert [e["reason"] for e in _ended(started)] == ["lifetime"]
    await http.aclose()


async def test_over_https_the_cookie_is_host_prefixed_and_secure(
    settings_factory: Callable[..., Settings], clock: FakeClock
) -> None:
    started = open_authority(settings_factory(issuer="https://authority.test"), clock=clock)
    try:
        assert started.bootstrap_key is not None
        http = await _signed_in(started, started.bootstrap_key, "https://authority.test")
        cookie = next(c for c in http.cookies.jar if c.name.endswith("jot_session"))
        assert cookie.name == "__Host-jot_session"
        assert cookie.secure
        assert (cookie.path, cookie.domain_specified) == ("/", False)
        await http.aclose()
    finally:
        started.authority.close()
