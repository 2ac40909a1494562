"""The browser flow end to end against a real provider, driven by httpx following redirects."""

from __future__ import annotations

import httpx

from jot.authority.access import group_names
from jot.authority.context import load_identity


def login(browser: httpx.Client, server, provider: str, sub: str) -> httpx.Response:
    form = browser.get(f"{server.url}/oidc/{provider}/login")
    assert form.status_code == 200, form.text
    assert form.url.path == "/oauth2/authorize"
    return browser.post(str(form.url), data={"sub": sub})


def test_first_login_creates_user_with_groups(server, provider, user, browser) -> None:
    page = login(browser, server, provider, user)
    assert page.status_code == 200, page.text
    assert f"logged in as {user}@example.com" in page.text
    with server.authority.db.transaction(write=False) as session:
        identity = load_identity(session, f"{user}@example.com")
        assert identity is not None
        assert group_names(session, identity.id) == ["dev", "ops"]
