"""Fixtures: one mock OIDC provider per test session (per xdist worker), a fresh authority
per test, and a provider record pointing at the mock."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import oidc_harness
import pytest

from jot.authority.oidc import discovery


@pytest.fixture(scope="session")
def idp() -> Iterator[oidc_harness.MockIdP]:
    with oidc_harness.mock_idp() as provider:
        yield provider


@pytest.fixture
def server(tmp_path: Path) -> Iterator[oidc_harness.Running]:
    """An authority on SQLite (the embedded default)."""
    discovery.clear_cache()
    with oidc_harness.authority(tmp_path / "data") as running:
        yield running


@pytest.fixture
def pg_server(tmp_path: Path) -> Iterator[oidc_harness.Running]:
    """An authority on PostgreSQL (a private schema of ``JOT_TEST_POSTGRES_URL``)."""
    discovery.clear_cache()
    with (
        oidc_harness.postgres_url() as url,
        oidc_harness.authority(tmp_path / "data", database_url=url) as running,
    ):
        yield running


@pytest.fixture
def provider(server: oidc_harness.Running, idp: oidc_harness.MockIdP) -> str:
    """Registers the mock as provider ``mock``; returns its name."""
    with server.api() as api:
        response = api.post(
            "/api/providers",
            json={
                "name": "mock",
                "issuer": idp.issuer,
                "client_id": "jot-test",
                "client_secret": "s3cret",
                "scopes": ["openid", "email", "profile"],
            },
        )
    assert response.status_code == 201, response.text
    return "mock"


@pytest.fixture
def user(idp: oidc_harness.MockIdP) -> str:
    """A fresh user at the provider (unique per test, the provider is shared)."""
    sub = f"u{secrets.token_hex(4)}"
    idp.set_user(sub, email=f"{sub}@example.com", name=f"User {sub}", groups=["dev", "ops"])
    return sub


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        yield client
