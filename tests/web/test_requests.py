"""Access requests in a real browser (issue 19 item 3): one person asks, another (an approver
on that resource) approves, the role then shows on the first one's "My access"; nobody is
offered an answer to their own request; axe-core finds nothing serious on the page."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.oidc.oidc_harness import Running

from .conftest import new_user, sign_in
from .test_a11y_and_forgery import AXE, _violations


def test_one_asks_another_approves(chromium: Browser, server: Running) -> None:
    assert AXE.exists(), "axe-core is not installed: run scripts/install-axe (make test does)"
    asker, approver = new_user(server), new_user(server)
    with server.api() as api:
        assert api.post("/api/destinations", json={"name": "shop"}).status_code == 201
        grant = {"subject": f"user:{approver}", "role": "approver", "resource": "jot.shop"}
        assert api.post("/api/grants", json=grant).status_code == 201
    first, second = chromium.new_context(), chromium.new_context()
    try:
        page = first.new_page()
        sign_in(page, server, asker)
        page.get_by_role("link", name="Access requests").click()
        expect(page.locator("#nothing-waiting")).to_be_visible()
        page.get_by_label("Role").fill("editor")
        page.get_by_label("Resource").fill("shop")
        page.get_by_label("For how long").select_option(label="4 hours")
        page.get_by_label("Why").fill("INC-7: fix the prices")
        page.get_by_role("button", name="Ask").click()
        expect(page.locator("#done")).to_contain_text("asked for editor on shop")
        mine = page.locator("#mine tbody tr").first
        expect(mine.locator(".state")).to_have_text("pending")
        assert _violations(page) == []
        # The asker is offered no answer to their own request.
        expect(page.locator("#waiting")).to_have_count(0)

        other = second.new_page()
        sign_in(other, server, approver)
        other.goto(f"{server.url}/requests")
        row = other.locator("#waiting tbody tr", has_text=asker)
        expect(row).to_contain_text("INC-7: fix the prices")
        expect(row).to_contain_text("4 hours")
        assert _violations(other) == []
        row.get_by_label(f"Note for {asker}").fill("go ahead")
        row.get_by_role("button", name=f"Approve {asker}'s request").click()
        expect(other.locator("#done")).to_contain_text(f"approved {asker}'s request")
        expect(other.locator("#nothing-waiting")).to_be_visible()

        page.reload()
        expect(mine.locator(".state")).to_contain_text("approved (until")
        expect(mine).to_contain_text(f"{approver}: go ahead")
        page.get_by_role("link", name="My access").click()
        expect(page.locator("#access tr[data-destination='shop']")).to_contain_text(
            "editor on shop (your own grant)"
        )
    finally:
        first.close()
        second.close()
