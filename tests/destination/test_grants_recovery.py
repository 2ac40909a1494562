"""Issue 13 item 3: after an authority outage, destinations catch up within 2 s of its
return (the refresh retries on a short interval instead of backing off to 30 s), and the
outage is logged once when it starts and once when it ends, not once per attempt."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from jot.destination.grants_client import AsyncAuthorityGrants, AuthorityGrants

from .authority import ACCESS_KEY, FakeAuthority

OUTAGE = 3.5  # Long enough for the old back-off (2 s, 4 s, …) to overshoot the bound.
CATCH_UP = 2.0


def _outage_then_change(authority: FakeAuthority) -> float:
    """Take the authority down, bring it back with a changed grant; when it came back."""
    authority.down = True
    time.sleep(OUTAGE)
    authority.set_grants([("group:ops", "viewer", "web"), ("group:ops", "viewer", "web-1")])
    authority.down = False
    return time.monotonic()


def test_a_destination_catches_up_within_2_s_after_an_outage(caplog):
    authority = FakeAuthority()
    authority.set_grants([("group:ops", "admin", "web-1")])
    source = AuthorityGrants(
        authority.issuer, "web-1", access_key=ACCESS_KEY, http=authority.client()
    )
    caplog.set_level(logging.INFO, logger="jot.destination")
    try:
        assert source.roles_for("a", ["ops"], "web-1") == {"admin"}  # Starts the refresh.
        back = _outage_then_change(authority)
        while source.roles_for("a", ["ops"], "web-1") != {"viewer"}:
            assert time.monotonic() - back < CATCH_UP + 1, "no catch-up"
            time.sleep(0.02)
        caught_up = time.monotonic() - back
    finally:
        source.close()
    assert caught_up < CATCH_UP
    # The grants stayed usable throughout; the log says it once each way.
    # (Only this destination's lines: other tests' refresh threads may log meanwhile.)
    messages = [r.getMessage() for r in caplog.records if "(destination web-1)" in r.getMessage()]
    assert len([m for m in messages if " failed: " in m]) == 1
    assert len([m for m in messages if " works again after " in m]) == 1


@pytest.mark.anyio
async def test_the_async_refresh_catches_up_too():
    authority = FakeAuthority()
    authority.set_grants([("group:ops", "admin", "web")])
    source = AsyncAuthorityGrants(
        authority.issuer, "web", access_key=ACCESS_KEY, http=authority.async_client()
    )
    try:
        assert await source.aroles_for("a", ["ops"], "web") == {"admin"}
        back = await asyncio.to_thread(_outage_then_change, authority)
        while await source.aroles_for("a", ["ops"], "web") != {"viewer"}:
            assert time.monotonic() - back < CATCH_UP + 1, "no catch-up"
            await asyncio.sleep(0.02)
        assert time.monotonic() - back < CATCH_UP
    finally:
        await source.aclose()
