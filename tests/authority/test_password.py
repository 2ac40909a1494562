"""Changing one's own password: the current one is checked, wrong guesses are limited like
failed logins, and identities without a password are told so."""

from __future__ import annotations

import httpx
import pytest

from .conftest import bearer
from .test_api import PASSWORD, _setup

pytestmark = pytest.mark.anyio

NEW = "a new passphrase"


async def _login(client: httpx.AsyncClient, password: str) -> httpx.Response:
    return await client.post("/api/login", json={"name": "alice@example.com", "password": password})


async def _password_events(admin: httpx.AsyncClient) -> list[dict[str, str]]:
    events = (await admin.get("/api/audit", params={"kind": "identity."})).json()["items"]
    return [e for e in events if e["kind"].startswith("identity.password_change")]


async def test_change_then_log_in_with_the_new_password(admin: httpx.AsyncClient) -> None:
    key = await _setup(admin)
    changed = await admin.post(
        "/api/password", json={"current": PASSWORD, "new": NEW}, headers=bearer(key)
    )
    assert changed.status_code == 204, changed.text
    assert (await _login(admin, PASSWORD)).status_code == 401
    assert (await _login(admin, NEW)).status_code == 201
    events = await _password_events(admin)
    assert [(e["kind"], e["target"]) for e in events] == [
        ("identity.password_changed", "alice@example.com")
    ]


async def test_wrong_current_password_is_refused_limited_and_audited(
    admin: httpx.AsyncClient,
) -> None:
    key = await _setup(admin)
    statuses = []
    for _ in range(7):
        response = await admin.post(
            "/api/password", json={"current": "a wrong guess", "new": NEW}, headers=bearer(key)
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [403] * 5
    assert response.json()["message"] == "too many wrong passwords; try again later"
    assert statuses[-1] == 429
    # The guesses count against logging in too: no way around the login lockout.
    assert (await _login(admin, PASSWORD)).status_code == 429
    kinds = [e["kind"] for e in await _password_events(admin)]
    assert kinds.count("identity.password_change_failed") == 5
    assert "identity.password_changed" not in kinds


async def test_identities_without_password_are_told(admin: httpx.AsyncClient) -> None:
    # The bootstrap admin has only its access key.
    response = await admin.post("/api/password", json={"current": "anything", "new": NEW})
    assert response.status_code == 400
    assert "has no password" in response.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"current": PASSWORD, "new": "short"},
        {"current": "", "new": NEW},
        {"current": PASSWORD},
        {"current": PASSWORD, "new": NEW, "admin": True},
    ],
)
async def test_bad_bodies_change_nothing(admin: httpx.AsyncClient, body: dict[str, object]) -> None:
    key = await _setup(admin)
    response = await admin.post("/api/password", json=body, headers=bearer(key))
    assert response.status_code == 400
    assert (await _login(admin, PASSWORD)).status_code == 201


async def test_anonymous_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/password", json={"current": PASSWORD, "new": NEW})
    assert response.status_code == 401
