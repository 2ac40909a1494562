"""The lean routes (``POST /api/tokens``, the JWKS) answer exactly like the FastAPI routes
behind them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from jot.authority import audit, fastpath
from jot.authority.app import Started, create_app
from jot.jose.hazmat import decode_unverified

from .conftest import ISSUER, bearer

pytestmark = pytest.mark.anyio


@pytest.fixture
async def plain(started: Started) -> AsyncIterator[httpx.AsyncClient]:
    """The same authority with the lean routes taken out: FastAPI answers every request."""
    app = create_app(authority=started.authority)
    app.state.shortcuts.clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
        yield http


# (content, content type, with the admin key): requests the lean route must hand over.
ODD_REQUESTS: list[tuple[bytes, str, bool]] = [
    (b'{"destination": "jot"', "application/json", True),
    (b'{"destination": "jot", "extra": 1}', "application/json", True),
    (b"{}", "application/json", True),
    (b'{"destination": ""}', "application/json", True),
    (b'{"destination": 5}', "application/json", True),
    (b"[]", "application/json", True),
    (b"", "application/json", True),
    (b'{"destination": "jot"}', "text/plain", True),
    (b'{"destination": "nowhere"}', "application/json", True),
    (b'{"destination": "jot"}', "application/json", False),
]


@pytest.mark.parametrize(("content", "kind", "authenticated"), ODD_REQUESTS)
async def test_odd_requests_answer_as_before(
    client: httpx.AsyncClient,
    plain: httpx.AsyncClient,
    admin_key: str,
    content: bytes,
    kind: str,
    authenticated: bool,
) -> None:
    headers = {"Content-Type": kind, **(bearer(admin_key) if authenticated else {})}
    answers: list[tuple[int, Any]] = []
    for http in (client, plain):
        response = await http.post("/api/tokens", content=content, headers=headers)
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] >= 400


async def test_token_answer_has_the_same_shape(
    client: httpx.AsyncClient, plain: httpx.AsyncClient, admin_key: str
) -> None:
    answers = []
    for http in (client, plain):
        response = await http.post(
            "/api/tokens", json={"destination": "jot"}, headers=bearer(admin_key)
        )
        assert response.status_code == 201, response.text
        assert response.headers["content-type"] == "application/json"
        answers.append(response.json())
    assert set(answers[0]) == set(answers[1]) == {"token", "expires"}
    assert answers[0]["expires"] == answers[1]["expires"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
async def test_jwks_answers_as_before(
    client: httpx.AsyncClient, plain: httpx.AsyncClient, method: str
) -> None:
    answers = []
    for http in (client, plain):
        response = await http.request(method, fastpath.JWKS_PATH)
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        answers.append((response.status_code, headers, response.content))
    assert answers[0] == answers[1]


async def test_openapi_still_describes_the_route(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/tokens"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/TokenRequest")
    assert "201" in operation["responses"]
    assert "get" in schema["paths"][fastpath.JWKS_PATH]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_busy_writer_does_not_block_the_loop(
    client: httpx.AsyncClient, started: Started, admin_key: str
) -> None:
    """With another writer holding SQLite, a token waits in the thread pool, not the loop."""
    auth = bearer(admin_key)
    first = await client.post("/api/tokens", json={"destination": "jot"}, headers=auth)
    assert first.status_code == 201, first.text  # The key check is cached from here on.
    holding, release = threading.Event(), threading.Event()

    def hold_writer() -> None:
        with started.authority.db.transaction(write=True):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_writer)
    holder.start()
    try:
        assert holding.wait(10)
        pending = asyncio.ensure_future(
            client.post("/api/tokens", json={"destination": "jot"}, headers=auth)
        )
        jwks = await asyncio.wait_for(client.get("/.well-known/jwks.json"), 10)
        assert jwks.status_code == 200
        await asyncio.sleep(0.05)
        assert not pending.done()
    finally:
        release.set()
        holder.join(10)
    token = await asyncio.wait_for(pending, 10)
    assert token.status_code == 201, token.text


async def test_cached_tokens_are_audited_before_the_answer(
    client: httpx.AsyncClient, started: Started, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens issued from the cached checks skip the request transaction, not the audit."""
    authority = started.authority
    grouped: list[dict[str, Any]] = []
    write = authority.audit_log.write

    async def spy(values: dict[str, Any], **also: Any) -> None:
        grouped.append(values)
        await write(values, **also)

    monkeypatch.setattr(authority.audit_log, "write", spy)
    for _ in range(3):
        response = await client.post(
            "/api/tokens", json={"destination": "jot"}, headers=bearer(admin_key)
        )
        assert response.status_code == 201, response.text
        jti = decode_unverified(response.json()["token"]).payload["jti"]
        with authority.db.transaction(write=False) as session:
            events = audit.query(session, kind="token.issued")
        assert events[0].detail["jti"] == jti  # Committed before the answer.
        assert (events[0].actor, events[0].target) == ("admin", "jot")
    # The first request checked the key and decided in a read transaction, the others hit
    # the caches: every row went through the group commit, looking the same.
    assert len(grouped) == 3
    assert len({event.client for event in events}) == 1
    assert {event.detail["sub"] for event in events} == {events[0].detail["sub"]}


async def test_concurrent_cached_tokens_share_commits(
    client: httpx.AsyncClient, started: Started, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    authority = started.authority
    auth = bearer(admin_key)
    first = await client.post("/api/tokens", json={"destination": "jot"}, headers=auth)
    assert first.status_code == 201, first.text
    batches: list[int] = []
    insert = authority.audit_log._insert

    def counting(rows: list[dict[str, Any]], *updates: Any) -> None:
        batches.append(len(rows))
        insert(rows, *updates)

    monkeypatch.setattr(authority.audit_log, "_insert", counting)
    answers = await asyncio.gather(
        *(client.post("/api/tokens", json={"destination": "jot"}, headers=auth) for _ in range(20))
    )
    assert all(answer.status_code == 201 for answer in answers)
    assert sum(batches) == 20
    assert len(batches) < 20  # Some rows shared a transaction.
    jtis = {decode_unverified(answer.json()["token"]).payload["jti"] for answer in answers}
    with authority.db.transaction(write=False) as session:
        logged = {e.detail["jti"] for e in audit.query(session, kind="token.issued", limit=50)}
    assert jtis <= logged


async def test_revoked_key_is_refused_at_once_despite_the_cache(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    auth = bearer(admin_key)
    for _ in range(2):  # The second answer comes from the cached checks.
        response = await client.post("/api/tokens", json={"destination": "jot"}, headers=auth)
        assert response.status_code == 201, response.text
    whoami = (await client.get("/api/whoami", headers=auth)).json()
    revoked = await client.delete(f"/api/access-keys/{whoami['access_key']}", headers=auth)
    assert revoked.status_code == 204, revoked.text
    refused = await client.post("/api/tokens", json={"destination": "jot"}, headers=auth)
    assert refused.status_code == 401


async def test_roles_on_jot_still_decide_after_a_token_check_left_them_out(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, started: Started, admin_key: str
) -> None:
    # A token check reads no roles on jot (its decision needs none), and its cached key check
    # must not stand in for one that does: the admin stays admin, alice never becomes one.
    for made in (
        admin.post("/api/users", json={"name": "alice@example.com"}),
        admin.post("/api/destinations", json={"name": "web"}),
        admin.post(
            "/api/grants",
            json={"subject": "user:alice@example.com", "role": "user", "resource": "web"},
        ),
    ):
        assert (await made).is_success
    made = await admin.post("/api/access-keys", json={"identity": "alice@example.com"})
    alice_key = made.json()["access_key"]
    cache = started.authority.auth_cache
    for key, destination, roles, listing in (
        (admin_key, "jot", ["admin"], 200),
        (alice_key, "web", [], 403),
    ):
        cache.clear()
        token = await client.post(
            "/api/tokens", json={"destination": destination}, headers=bearer(key)
        )
        assert token.status_code == 201, token.text
        cached = cache.get(cache.digest(key))
        assert cached is not None
        assert cached.roles is None
        assert (await client.get("/api/users", headers=bearer(key))).status_code == listing
        assert (await client.get("/api/whoami", headers=bearer(key))).json()["roles"] == roles


async def test_requests_missing_the_caches_together_check_the_key_once(
    client: httpx.AsyncClient, started: Started, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = bearer(admin_key)
    first = await client.post("/api/tokens", json={"destination": "jot"}, headers=auth)
    assert first.status_code == 201, first.text
    started.authority.auth_cache.clear()  # As when the entries expire.
    started.authority.decisions.clear()
    long_way: list[str] = []
    run = fastpath.check

    def counting(*args: Any, **kwargs: Any) -> Any:
        long_way.append(kwargs["body"].destination)
        return run(*args, **kwargs)

    monkeypatch.setattr(fastpath, "check", counting)
    answers = await asyncio.gather(
        *(client.post("/api/tokens", json={"destination": "jot"}, headers=auth) for _ in range(10))
    )
    assert [answer.status_code for answer in answers] == [201] * 10
    assert long_way == ["jot"]


async def test_waiters_of_a_failed_check_get_its_answer(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    answers = await asyncio.gather(
        *(
            client.post("/api/tokens", json={"destination": "nowhere"}, headers=bearer(admin_key))
            for _ in range(5)
        )
    )
    assert [answer.status_code for answer in answers] == [404] * 5
    assert {answer.json()["error"] for answer in answers} == {"not_found"}


async def test_a_due_last_used_touch_is_committed_with_the_audit_row(
    client: httpx.AsyncClient, started: Started, admin_key: str, clock: Any
) -> None:
    """A read-only token check hands the key's last-used write to the group commit."""
    from sqlalchemy import select

    from jot.authority.credentials import parse_access_key
    from jot.authority.models import AccessKey

    auth = bearer(admin_key)
    assert (await client.post("/api/tokens", json={"destination": "jot"}, headers=auth)).is_success
    clock.advance(120)  # The touch is due again, and the cached check has expired.
    started.authority.auth_cache.clear()
    started.authority.decisions.clear()
    grouped: list[Any] = []
    write = started.authority.audit_log.write

    async def spy(values: dict[str, Any], *, also: Any = None) -> None:
        grouped.append(also)
        await write(values, also=also)

    started.authority.audit_log.write = spy  # type: ignore[method-assign]
    assert (await client.post("/api/tokens", json={"destination": "jot"}, headers=auth)).is_success
    assert grouped
    assert grouped[0] is not None
    key_id = parse_access_key(admin_key)[0]  # type: ignore[index]
    with started.authority.db.transaction(write=False) as session:
        last_used = session.scalar(select(AccessKey.last_used).where(AccessKey.id == key_id))
    assert last_used is not None
    assert abs(last_used.timestamp() - started.authority.clock()) < 1


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_check_after_the_server_dropped_its_connections_still_works(
    client: httpx.AsyncClient, started: Started, admin_key: str
) -> None:
    """Token checks read on pooled connections (``Database.reading``), whose pre-ping
    replaces the ones PostgreSQL dropped (a restart): no request sees the drop."""
    db = started.authority.db
    pids: set[int] = set()

    def note(dbapi_connection: Any, *_: Any) -> None:
        pids.add(dbapi_connection.info.backend_pid)

    event.listen(db.engine, "checkout", note)
    auth = bearer(admin_key)
    first = await client.post("/api/tokens", json={"destination": "jot"}, headers=auth)
    assert first.status_code == 201, first.text
    event.remove(db.engine, "checkout", note)
    assert pids
    with db.engine.connect() as admin:
        mine = admin.execute(text("SELECT pg_backend_pid()")).scalar()
        for pid in pids - {mine}:  # Only these: other tests share the server.
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    for _ in range(3):
        started.authority.auth_cache.clear()  # Every request checks the key again.
        started.authority.decisions.clear()
        answer = await client.post("/api/tokens", json={"destination": "jot"}, headers=auth)
        assert answer.status_code == 201, answer.text
