"""The login, group sync, revalidation and refusal paths on PostgreSQL too."""

from __future__ import annotations

import pytest
from test_oidc_bad_input import _callback, _nothing_written
from test_oidc_browser import login
from test_oidc_sessions import (
    _age_session,
    _groups,
    _key,
    _setup_destination,
    _token,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_provider(pg_server, idp) -> str:
    with pg_server.api() as api:
        body = {"name": "mock", "issuer": idp.issuer, "client_id": "jot-pg", "client_secret": "s"}
        assert api.post("/api/providers", json=body).status_code == 201
    return "mock"


def test_login_sync_revalidate_revoke(pg_server, pg_provider, idp, user, browser) -> None:
    email = f"{user}@example.com"
    key = _key(login(browser, pg_server, pg_provider, user))
    assert _groups(pg_server, email) == ["dev", "ops"]
    _setup_destination(pg_server, email)
    idp.set_user(user, email=email, groups=["ops", "qa"])
    _age_session(pg_server, key)
    assert _token(pg_server, key).status_code == 201
    assert _groups(pg_server, email) == ["ops", "qa"]
    idp.revoke(user)
    _age_session(pg_server, key)
    assert _token(pg_server, key).status_code == 401


def test_wrong_state_writes_nothing(pg_server, pg_provider, user, browser) -> None:
    target = _callback(browser, pg_server, pg_provider, user)
    page = browser.get(target.copy_set_param("state", "forged"))
    assert page.status_code == 400
    _nothing_written(pg_server)
