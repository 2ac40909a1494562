"""Limits that stop attackers without locking anyone else out (issue 11 items 4-6 and 10,
issue 13 item 5): in process, on SQLite (the rules do not depend on the database)."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from jot.authority.app import create_app, open_authority
from jot.authority.clock import FakeClock
from jot.authority.models import AuditEvent
from jot.authority.settings import Settings
from jot.authority.state import Authority

from .conftest import ISSUER, bearer

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse"
ATTACKER, PERSON = "203.0.113.66", "198.51.100.7"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jot.db'}"


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[Authority, Callable[[str], httpx.AsyncClient], httpx.AsyncClient]]:
    """The authority, a factory of clients at a given address, and the admin's client (at the
    person's address)."""
    started = open_authority(settings, clock=clock)
    app = create_app(authority=started.authority)
    clients: list[httpx.AsyncClient] = []

    def at(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url=ISSUER))
        return clients[-1]

    admin = at(PERSON)
    admin.headers["Authorization"] = f"Bearer {started.bootstrap_key}"
    try:
        yield started.authority, at, admin
    finally:
        for client in clients:
            await client.aclose()
        started.authority.close()


async def _people(admin: httpx.AsyncClient, *names: str) -> None:
    for name in names:
        response = await admin.post("/api/users", json={"name": name, "password": PASSWORD})
        assert response.status_code == 201, response.text


async def _login(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    return await client.post("/api/login", json={"name": name, "password": password})


def _audit(authority: Authority, kind: str) -> list[AuditEvent]:
    with authority.db.transaction(write=False) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


async def test_bad_keys_from_one_address_never_refuse_valid_keys(settings_factory, clock) -> None:
    """Issue 13's numbers: an attacker sends one bad key per second from the address that
    300 valid token requests come from; none of the valid ones may be refused."""
    async with serving(settings_factory(), clock) as (_, at, admin_client):
        assert (await admin_client.post("/api/destinations", json={"name": "web"})).is_success
        grant = {"subject": "user:admin", "role": "viewer", "resource": "web"}
        assert (await admin_client.post("/api/grants", json=grant)).is_success
        admin_key = admin_client.headers["Authorization"].removeprefix("Bearer ")
        shared, admin = at(ATTACKER), bearer(admin_key)
        bad_keys = ["jot_ak_" + "A" * 12 + "_" + "b" * 32, "garbage", admin_key[:-1] + "x"]
        refused, bad_statuses = 0, []
        for second in range(300):
            bad = await shared.post(
                "/api/tokens", json={"destination": "web"}, headers=bearer(bad_keys[second % 3])
            )
            bad_statuses.append(bad.status_code)
            good = await shared.post("/api/tokens", json={"destination": "web"}, headers=admin)
            refused += good.status_code != 201
            clock.advance(1)
        assert refused == 0
        assert set(bad_statuses) == {401, 429}  # The attacker is told to slow down.
        assert (await shared.get("/api/whoami", headers=admin)).status_code == 200


async def test_guessing_a_password_locks_the_guesser_not_the_person(
    settings_factory, clock
) -> None:
    async with serving(settings_factory(), clock) as (_, at, admin):
        await _people(admin, "alice@example.com")
        attacker, alice = at(ATTACKER), at(PERSON)
        statuses = [
            (await _login(attacker, "alice@example.com", "wrong guess")).status_code
            for _ in range(6)
        ]
        assert statuses == [401] * 5 + [429]
        # Locked for the guesser even with the right password, until the back-off passes...
        assert (await _login(attacker, "alice@example.com", PASSWORD)).status_code == 429
        # ...but alice, from her own address, logs in at once.
        assert (await _login(alice, "alice@example.com", PASSWORD)).status_code == 201


async def test_a_throttled_account_still_takes_the_right_password(settings_factory, clock) -> None:
    """Guesses from many addresses throttle the account (a delay), never lock it."""
    settings = settings_factory(login_throttle_delay=0.3, login_account_max_failures=6)
    async with serving(settings, clock) as (_, at, admin):
        await _people(admin, "alice@example.com")
        for bot in range(12):
            answer = await _login(at(f"192.0.2.{bot + 1}"), "alice@example.com", "wrong guess")
            assert answer.status_code == 401
        started = time.monotonic()
        wrong = await _login(at("192.0.2.200"), "alice@example.com", "still wrong")
        assert wrong.status_code == 401
        right = await _login(at(PERSON), "alice@example.com", PASSWORD)
        assert right.status_code == 201
        assert time.monotonic() - started >= 0.6  # Both waited the delay.


async def test_password_spraying_from_one_address_hits_the_limit(settings_factory, clock) -> None:
    """12 guesses at different names, each followed by the attacker's own good login: the
    per-address counter is not reset by that login."""
    async with serving(settings_factory(), clock) as (_, at, admin):
        await _people(admin, "mallory@example.com", *(f"user{i}@example.com" for i in range(12)))
        attacker = at(ATTACKER)
        statuses = []
        for i in range(12):
            statuses.append(
                (await _login(attacker, f"user{i}@example.com", "Summer2026")).status_code
            )
            await _login(attacker, "mallory@example.com", PASSWORD)
        assert statuses[:10] == [401] * 10
        assert statuses[-1] == 429
        # Nobody else is affected: the same names log in from their own address.
        assert (await _login(at(PERSON), "user11@example.com", PASSWORD)).status_code == 201


async def test_login_time_does_not_tell_which_names_exist(settings_factory, clock) -> None:
    settings = settings_factory(login_max_failures=100, login_address_max_failures=100)
    async with serving(settings, clock) as (_, at, admin):
        await _people(admin, "alice@example.com")
        client = at(ATTACKER)
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        for round_ in range(7):
            for kind, name in (("known", "alice@example.com"), ("unknown", f"nobody{round_}")):
                started = time.perf_counter()
                assert (await _login(client, name, "wrong guess")).status_code == 401
                timings[kind].append(time.perf_counter() - started)
        ratio = statistics.median(timings["unknown"]) / statistics.median(timings["known"])
        assert 0.6 < ratio < 1.6, timings


async def test_repeated_refusals_are_folded_in_the_audit_log(settings_factory, clock) -> None:
    async with serving(settings_factory(), clock) as (authority, at, admin):
        await _people(admin, "alice@example.com")
        attacker = at(ATTACKER)
        statuses = [
            (await _login(attacker, "alice@example.com", "wrong guess")).status_code
            for _ in range(45)
        ]
        assert statuses.count(429) == 40
        assert len(_audit(authority, "login.failed")) == 5
        assert len(_audit(authority, "login.locked")) == 1
        # A minute later, the next refusal writes a row that counts the folded ones.
        clock.advance(61)
        later = [(await _login(attacker, "alice@example.com", "wrong")).status_code for _ in "ab"]
        assert later == [401, 429]
        _, second = _audit(authority, "login.locked")
        assert '"repeated": 39' in second.detail


async def test_anonymous_device_starts_are_limited(settings_factory, clock) -> None:
    settings = settings_factory(anonymous_starts_per_address=20)
    async with serving(settings, clock) as (authority, at, admin):
        provider = {"name": "idp", "issuer": "https://idp.invalid", "client_id": "c"}
        assert (await admin.post("/api/providers", json=provider)).status_code == 201
        anonymous = at(ATTACKER)
        statuses = [
            (await anonymous.post("/api/oidc/device", json={})).status_code for _ in range(40)
        ]
        assert statuses == [200] * 20 + [429] * 20
        assert len(_audit(authority, "oidc.device.started")) == 20
        assert len(_audit(authority, "oidc.device.start_limited")) == 1
        # Another address is not affected.
        assert (await at(PERSON).post("/api/oidc/device", json={})).status_code == 200


async def test_anonymous_login_starts_are_limited(settings_factory, clock) -> None:
    settings = settings_factory(anonymous_starts_per_address=5)
    async with serving(settings, clock) as (authority, at, admin):
        # A provider on a closed loopback port: every start fails fast, and writes a row.
        provider = {"name": "idp", "issuer": "http://127.0.0.1:9", "client_id": "c"}
        assert (await admin.post("/api/providers", json=provider)).status_code == 201
        anonymous = at(ATTACKER)
        statuses = [(await anonymous.get("/oidc/idp/login")).status_code for _ in range(12)]
        assert statuses == [502] * 5 + [429] * 7
        assert len(_audit(authority, "oidc.login.failed")) == 5
        assert len(_audit(authority, "oidc.login.start_limited")) == 1


async def test_the_real_client_address_comes_only_from_trusted_proxies(
    settings_factory, clock
) -> None:
    settings = settings_factory(trusted_proxies=["127.0.0.0/8", "::1"])
    async with serving(settings, clock) as (authority, at, admin):
        await _people(admin, "alice@example.com")
        proxy, stranger = at("127.0.0.1"), at(ATTACKER)

        async def failed_from(client: httpx.AsyncClient, **headers: str) -> str | None:
            await client.post(
                "/api/login", json={"name": "alice@example.com", "password": "x"}, headers=headers
            )
            return _audit(authority, "login.failed")[-1].client

        assert await failed_from(proxy, **{"x-forwarded-for": PERSON}) == PERSON
        # A client cannot hide behind an address it prepends itself.
        spoofed = {"x-forwarded-for": f"10.9.9.9, {PERSON}, 127.0.0.2"}
        assert await failed_from(proxy, **spoofed) == PERSON
        forwarded = {"forwarded": 'for="[2001:db8::1]:4711";proto=https'}
        assert await failed_from(proxy, **forwarded) == "2001:db8::1"
        # Only trusted peers are believed.
        assert await failed_from(stranger, **{"x-forwarded-for": PERSON}) == ATTACKER
        # Behind the proxy, one client's guesses lock that client only.
        for _ in range(6):
            await proxy.post(
                "/api/login",
                json={"name": "alice@example.com", "password": "wrong"},
                headers={"x-forwarded-for": "192.0.2.1"},
            )
        answer = await proxy.post(
            "/api/login",
            json={"name": "alice@example.com", "password": PASSWORD},
            headers={"x-forwarded-for": "192.0.2.2"},
        )
        assert answer.status_code == 201


async def test_forwarded_headers_are_ignored_by_default(settings_factory, clock) -> None:
    async with serving(settings_factory(), clock) as (authority, at, _):
        client = at("127.0.0.1")
        await _login(client, "nobody", "x")
        await client.post(
            "/api/login",
            json={"name": "nobody", "password": "x"},
            headers={"x-forwarded-for": PERSON},
        )
        assert {e.client for e in _audit(authority, "login.failed")} == {"127.0.0.1"}


def test_trusted_proxies_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JOT_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    assert Settings(data_dir=tmp_path).trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    monkeypatch.setenv("JOT_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example.com")
    with pytest.raises(ValidationError, match="is not an IP address or network"):
        Settings(data_dir=tmp_path)
    assert Settings(data_dir=tmp_path, trusted_proxies=[]).trusted_proxies == []
