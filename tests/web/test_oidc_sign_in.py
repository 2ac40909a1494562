"""Sign-in to the console through the real OpenID provider the suite starts (issue 17)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from jot.authority.web.models import WebSession
from tests.oidc import oidc_harness
from tests.oidc.oidc_harness import Running


@pytest.fixture(scope="module")
def idp() -> Iterator[oidc_harness.MockIdP]:
    with oidc_harness.mock_idp() as provider:
        yield provider


def test_sign_in_through_the_provider(page: Page, server: Running, idp) -> None:
    name = f"p{secrets.token_hex(3)}"
    with server.api() as api:
        body = {"name": name, "issuer": idp.issuer, "client_id": "jot-test", "client_secret": "s"}
        assert api.post("/api/providers", json=body).status_code == 201
    sub = f"u{secrets.token_hex(4)}"
    idp.set_user(sub, email=f"{sub}@example.com", name=f"User {sub}", groups=["dev"])
    page.goto(f"{server.url}/debug")
    page.goto(f"{server.url}/sign-in?next=/debug")
    page.get_by_role("link", name=f"Sign in with {name}").click()
    # The provider's own page (oidc-provider-mock): who signs in.
    page.locator("input[name=sub]").fill(sub)
    page.locator("form").first.evaluate("f => f.submit()")
    expect(page).to_have_url(f"{server.url}/debug")  # Back where the person was going.
    expect(page.locator(".who")).to_have_text(f"{sub}@example.com")
    with server.authority.db.transaction(write=False) as db:
        methods = list(
            db.scalars(WebSession.__table__.select().with_only_columns(WebSession.method))
        )
    assert "oidc" in methods
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
