"""Signing-key rotation with a fake clock, and under concurrency on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from jot.authority.app import create_app, open_authority
from jot.authority.clock import FakeClock
from jot.authority.schedule import KeyView, Schedule, new_key_activation, published, signing_key
from jot.authority.settings import Settings
from jot.jose import KeySet
from jot.jose import jwt as jot_jwt
from jot.jose.errors import InvalidTokenError

from .conftest import ISSUER, bearer
from .helpers import postgres_schema

T0 = datetime(2030, 1, 1, tzinfo=UTC)
SCHEDULE = Schedule(timedelta(hours=1), timedelta(minutes=10), timedelta(minutes=70))


def test_schedule_publishes_ahead_and_retires_late() -> None:
    a = KeyView("a", T0)
    assert new_key_activation([], T0, SCHEDULE) == T0
    assert new_key_activation([a], T0 + timedelta(minutes=49), SCHEDULE) is None
    due = new_key_activation([a], T0 + timedelta(minutes=50), SCHEDULE)
    assert due == T0 + timedelta(hours=1)
    b = KeyView("b", due)
    keys = [a, b]
    assert new_key_activation(keys, T0 + timedelta(minutes=55), SCHEDULE) is None
    assert signing_key(keys, due - timedelta(seconds=1)) == a
    assert signing_key(keys, due) == b
    assert published(keys, a, due + timedelta(minutes=69), SCHEDULE)
    assert not published(keys, a, due + timedelta(minutes=70), SCHEDULE)
    # A server that was down past the due time publishes first and keeps signing with the old key.
    late = T0 + timedelta(hours=5)
    assert new_key_activation([a], late, SCHEDULE) == late + timedelta(minutes=10)
    # A revoked key is gone at once, and a new key signs immediately.
    revoked = KeyView("a", T0, revoked=T0 + timedelta(minutes=1))
    assert not published([revoked], revoked, T0 + timedelta(minutes=1), SCHEDULE)
    assert new_key_activation([revoked], T0 + timedelta(minutes=1), SCHEDULE) == T0 + timedelta(
        minutes=1
    )


@pytest.mark.anyio
async def test_tokens_verify_across_a_rotation(
    settings_factory: Callable[..., Settings], clock: FakeClock, request: pytest.FixtureRequest
) -> None:
    settings = settings_factory(rotation_period=3600, jwks_max_age=300, key_reload_interval=0.001)
    started = open_authority(settings, clock=clock)
    request.addfinalizer(started.authority.close)
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    key = started.bootstrap_key
    assert key is not None
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER, headers=bearer(key)) as http:

        async def issue() -> str:
            response = await http.post("/api/tokens", json={"destination": "jot"})
            assert response.status_code == 201, response.text
            return str(response.json()["token"])

        async def jwks() -> KeySet:
            return KeySet.from_dict((await http.get("/.well-known/jwks.json")).json())

        def verifies(token: str, keys: KeySet) -> bool:
            try:
                jot_jwt.decode(
                    token, keys, algorithms=["EdDSA"], audience="jot", issuer=ISSUER, now=clock.now
                )
            except InvalidTokenError:
                return False
            return True

        # Tokens live an hour here, so that each one outlives the moment the keys change.
        assert (
            await http.patch("/api/destinations/jot", json={"lifetime": 3600})
        ).status_code == 200
        tokens = {"before": await issue()}
        first = {k["kid"] for k in (await jwks()).to_dict()["keys"]}
        assert len(first) == 1
        # 361 s before the hour (cache + reload + a minute) the next key is published...
        clock.advance(3600 - 361)
        tokens["published"] = await issue()
        published_set = await jwks()
        assert len(published_set.to_dict()["keys"]) == 2
        assert verifies(tokens["before"], published_set)
        assert (
            jot_jwt.decode_complete(
                tokens["published"],
                published_set,
                algorithms=["EdDSA"],
                audience="jot",
                now=clock.now,
            ).key.kid
            in first
        )
        # ... and signs only from the hour on.
        clock.advance(361)
        tokens["after"] = await issue()
        after = await jwks()
        header_kid = jot_jwt.decode_complete(
            tokens["after"], after, algorithms=["EdDSA"], audience="jot", now=clock.now
        ).key.kid
        assert header_kid not in first
        for name in ("published", "after"):
            assert verifies(tokens[name], after), name
        # The retired key stays until its last token expired + skew + cache (3600+300+300 s).
        clock.advance(4200 - 1)
        assert first <= {k["kid"] for k in (await jwks()).to_dict()["keys"]}
        clock.advance(2)
        remaining = {k["kid"] for k in (await jwks()).to_dict()["keys"]}
        assert not first & remaining
        assert verifies(await issue(), await jwks())

        listing = (await http.get("/api/signing-keys")).json()["items"]
        assert sorted(k["state"] for k in listing) in (
            ["active", "retired"],
            ["active", "next", "retired"],
        )

        # Emergency rotation: the signing key leaves the JWKS at once, a new one signs.
        old = await issue()
        rotated = await http.post("/api/signing-keys/rotate")
        assert rotated.status_code == 200
        keys_now = await jwks()
        assert not verifies(old, keys_now)
        assert verifies(await issue(), keys_now)
        events = (await http.get("/api/audit", params={"kind": "signing_key."})).json()["items"]
        assert {e["kind"] for e in events} == {"signing_key.created", "signing_key.rotated"}


_RACER = textwrap.dedent(
    """
    import sys
    from jot.authority.app import open_authority
    from jot.authority.clock import FakeClock
    from jot.authority.settings import Settings

    url, data_dir, fake_now, mode = sys.argv[1:5]
    settings = Settings(
        database_url=url, data_dir=data_dir, rotation_period=3600, key_reload_interval=0.001
    )
    clock = FakeClock(float(fake_now))
    started = open_authority(settings, clock=clock)
    clock.advance(3600 - 300)
    print("ready", flush=True)
    sys.stdin.readline()  # "go", sent to both racers at once
    if mode == "rotate":
        with started.authority.db.transaction() as session:
            started.authority.keyring.rotate_now(session, actor=None, client=None)
    else:
        started.authority.keyring.refresh(force=True)
    """
)


@pytest.mark.postgres
def test_two_processes_rotating_at_once_leave_one_signing_key(tmp_path: Path) -> None:
    with postgres_schema() as url:
        fake_now = time.time()
        settings = Settings(database_url=url, data_dir=tmp_path, rotation_period=3600)
        first = open_authority(settings, clock=FakeClock(fake_now))
        first.authority.close()
        for mode in ("refresh", "rotate"):
            racers = [
                subprocess.Popen(
                    [sys.executable, "-c", _RACER, url, str(tmp_path), str(fake_now), mode],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            assert [p.stdout.readline().strip() for p in racers if p.stdout] == ["ready", "ready"]
            for p in racers:
                assert p.stdin is not None
                p.stdin.write("go\n")
                p.stdin.flush()
            assert [p.wait(timeout=60) for p in racers] == [0, 0]
            for p in racers:
                p.stdin.close() if p.stdin else None
                p.stdout.close() if p.stdout else None
            check = open_authority(settings, clock=FakeClock(fake_now + 3600 - 300))
            with check.authority.db.transaction(write=False) as session:
                states = sorted(k.state for k in check.authority.keyring.listing(session))
            check.authority.close()
            if mode == "refresh":
                assert states == ["active", "next"]
            else:
                assert states.count("active") == 1
                assert "next" in states
