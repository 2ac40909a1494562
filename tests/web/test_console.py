"""The admin console in a real browser (issue 17): an admin creates a destination, a group
and a grant; explain access; signing-key rotation asks first; the audit log follows live;
a user cannot reach an admin page."""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import Page, expect

from tests.oidc.oidc_harness import Running

from .conftest import new_user, sign_in
from .test_a11y_and_forgery import _violations


def _submit(page: Page, title: str, values: dict[str, str], button: str) -> None:
    form = page.locator("section.card", has=page.get_by_role("heading", name=title))
    for label, value in values.items():
        field = form.get_by_label(label)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.get_by_role("button", name=button).click()


def test_an_admin_sets_up_access_that_a_user_then_has(page: Page, server: Running, context) -> None:
    admin, user = new_user(server, admin=True), new_user(server)
    suffix = secrets.token_hex(3)
    dest, group = f"app-{suffix}", f"team-{suffix}"
    sign_in(page, server, admin)
    page.get_by_role("link", name="Console").click()
    expect(page).to_have_url(f"{server.url}/admin/users")

    page.get_by_role("link", name="Destinations").click()
    _submit(page, "Add a destination", {"Name": dest}, "Add")
    expect(page.locator("#done")).to_have_text(f"added destination {dest}")
    expect(page.locator(f"#rows tr[data-key='{dest}']")).to_be_visible()

    page.get_by_role("link", name="Groups").click()
    _submit(page, "Add a group", {"Name": group}, "Add")
    expect(page.locator("#done")).to_have_text(f"added group {group}")
    _submit(page, "Add a member", {"Group": group, "Identity": user}, "Add member")
    expect(page.locator(f"#rows tr[data-key='{group}']")).to_contain_text(user)

    page.get_by_role("link", name="Grants").click()
    grant = {"Subject (user:NAME or group:NAME)": f"group:{group}", "Role": "deployer"}
    _submit(
        page,
        "Grant a role",
        {**grant, "Resource (destination or destination.sub-resource)": f"{dest}.prod"},
        "Grant",
    )
    expect(page.locator("#done")).to_have_text(f"granted deployer on {dest}.prod to group:{group}")
    # A refusal of the API handler is shown in one line, and nothing else happens.
    _submit(
        page,
        "Grant a role",
        {**grant, "Resource (destination or destination.sub-resource)": "nowhere"},
        "Grant",
    )
    expect(page.locator("#error")).to_have_text("no destination named 'nowhere'; create it first")
    page.get_by_label("Role").first.fill("deployer")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#rows tbody tr")).to_have_count(1)

    page.get_by_role("link", name="Explain access").click()
    page.get_by_label("Subject (user:NAME or group:NAME)").fill(f"user:{user}")
    page.get_by_label("At (destination or destination.sub-resource)").fill(f"{dest}.prod")
    page.get_by_role("button", name="Explain").click()
    expect(page.locator("#verdict-token")).to_contain_text(f"Gets tokens for {dest}")
    expect(page.locator("#roles")).to_have_text("deployer")
    expect(page.locator("#sources")).to_contain_text(f"group:{group}")

    other = context.browser.new_context()
    try:
        mine = other.new_page()
        sign_in(mine, server, user)
        row = mine.locator(f"#access tr[data-destination='{dest}']")
        expect(row).to_contain_text(f"deployer on {dest}.prod through the group {group}")
        # A user cannot reach an admin page, nor post to one.
        mine.goto(f"{server.url}/admin/users")
        expect(mine.locator("h1")).to_have_text("Not allowed")
        expect(mine.locator("p.error")).to_contain_text("this needs the 'view' role")
        expect(mine.get_by_role("link", name="Console")).to_have_count(0)
    finally:
        other.close()


def test_signing_key_rotation_asks_first(page: Page, server: Running) -> None:
    sign_in(page, server, new_user(server, admin=True))
    page.goto(f"{server.url}/admin/signing-keys")
    before = page.locator("#rows tbody tr").count()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_label("I understand", exact=False).check()
    page.get_by_role("button", name="Rotate now").click()
    expect(page.locator("#rows tbody tr")).to_have_count(before)  # Dismissed: nothing sent.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate now").click()
    expect(page.locator("#done")).to_have_text("the signing key was revoked; a new one signs")
    expect(page.locator("#rows")).to_contain_text("revoked")


def test_the_audit_log_pages_and_follows_live(page: Page, server: Running) -> None:
    admin = new_user(server, admin=True)
    sign_in(page, server, admin)
    page.goto(f"{server.url}/admin/audit")
    expect(page.locator("#rows tbody tr").first).to_be_visible()
    marker = f"late-{secrets.token_hex(3)}"
    with server.api() as api:
        assert api.post("/api/groups", json={"name": marker}).status_code == 201
    # No reload: the live tail puts the new event on top.
    expect(page.locator("#rows tbody tr").first).to_contain_text(marker, timeout=8000)
    page.get_by_label("Event (exact, or a prefix ending in .)").fill("web.session.")
    page.get_by_role("button", name="Filter").click()
    for text in page.locator("#rows tbody tr td:nth-child(2)").all_inner_texts():
        assert text.startswith("web.session.")


def test_an_admin_makes_a_machines_key_and_revokes_a_token(page: Page, server: Running) -> None:
    machine = f"ci-{secrets.token_hex(3)}"
    sign_in(page, server, new_user(server, admin=True))
    page.goto(f"{server.url}/admin/users")
    _submit(
        page,
        "Add a user or machine identity",
        {"Name (an e-mail address for people)": machine, "Kind": "machine"},
        "Add",
    )
    page.get_by_role("link", name="Access keys").click()
    form = {
        "Identity (a user or machine)": machine,
        "Key name": "deploy",
        "Expires after": "7 days",
    }
    _submit(page, "Make a key for an identity", form, "Make key")
    expect(page.locator("#secret")).to_have_value(re.compile(r"^jot_ak_"))
    assert _violations(page) == []  # The page with its one-time secret, too.
    key = page.locator("#secret").input_value()
    with server.api() as api:
        assert (
            api.get("/api/whoami", headers={"Authorization": f"Bearer {key}"}).json()["name"]
            == machine
        )
    page.goto(f"{server.url}/admin/access-keys")  # Shown once: the list shows no key.
    expect(page.locator("#secret")).to_have_count(0)

    page.get_by_role("link", name="Revocations").click()
    jti = f"jti-{secrets.token_hex(4)}"
    page.once("dialog", lambda dialog: dialog.dismiss())
    _submit(page, "Revoke one token", {"Token id (jti)": jti}, "Revoke token")
    expect(page.locator("#rows")).not_to_contain_text(jti)  # Dismissed: nothing sent.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke token").click()
    expect(page.locator("#done")).to_contain_text(f"revoked {jti} at every destination")
    expect(page.locator(f"#rows tr:has-text('{jti}')")).to_be_visible()
