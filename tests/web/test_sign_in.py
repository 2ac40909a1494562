"""Sign-in, the session cookie's rules, sign-out and the page headers, in a real browser
(issue 17: "sign in with a password", "sign-out ends the session")."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select

from jot.authority.models import AccessKey, AuditEvent
from jot.authority.web.models import WebSession
from tests.oidc.oidc_harness import Running

from .conftest import PASSWORD, new_user, sign_in


def _session_cookie(page: Page) -> dict:
    found = [c for c in page.context.cookies() if c["name"] == "jot_session"]
    assert len(found) == 1, page.context.cookies()
    return dict(found[0])


def _rows(server: Running, model, *where):
    with server.authority.db.transaction(write=False) as db:
        return list(db.scalars(select(model).where(*where)))


def test_a_password_sign_in_starts_a_session(page: Page, server: Running) -> None:
    name = new_user(server)
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/sign-in")  # Nobody signed in yet.
    sign_in(page, server, name)
    expect(page).to_have_url(f"{server.url}/")
    expect(page.locator("#me-name")).to_have_text(name)
    cookie = _session_cookie(page)
    # Over http: no __Host- prefix (it needs Secure); never readable by script.
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False
    assert cookie["expires"] == -1  # A browser-session cookie: the server keeps the clock.
    assert page.evaluate("document.cookie").find("jot_session") == -1
    (row,) = _rows(server, WebSession, WebSession.id == cookie["value"].split(".")[0])
    assert (row.method, row.ended) == ("password", None)
    (key,) = _rows(server, AccessKey, AccessKey.id == row.access_key_id)
    assert key.name == "web session"
    assert key.expires is not None
    assert key.expires <= row.expires  # Bounded to the session.
    started = _rows(server, AuditEvent, AuditEvent.kind == "web.session.started")
    assert any(e.actor == name for e in started)


def test_a_wrong_password_is_refused_in_one_line(page: Page, server: Running) -> None:
    name = new_user(server)
    sign_in(page, server, name, "not the password")
    expect(page.locator("#sign-in-error")).to_have_text("wrong name or password")
    assert not [c for c in page.context.cookies() if c["name"] == "jot_session"]
    expect(page.get_by_label("Name").first).to_have_value(name)  # Kept for another try.


def test_a_key_sign_in_and_sign_out(page: Page, server: Running) -> None:
    name = new_user(server)
    with server.api() as api:
        made = api.post("/api/access-keys", json={"identity": name, "name": "laptop"})
    pasted = made.json()["access_key"]
    page.goto(f"{server.url}/debug")  # Any page, then the sign-in link, as a person would.
    page.goto(f"{server.url}/sign-in")
    form = page.locator("form", has=page.get_by_label("Access key"))
    form.get_by_label("Access key").fill(pasted)
    form.get_by_role("button", name="Sign in").click()
    expect(page.locator("#me-name")).to_have_text(name)
    session_id = _session_cookie(page)["value"].split(".")[0]
    (row,) = _rows(server, WebSession, WebSession.id == session_id)
    (key,) = _rows(server, AccessKey, AccessKey.id == row.access_key_id)
    assert key.parent_id == pasted.split("_")[2]  # Made from the pasted key, never outliving it.

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "jot_session"]
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/sign-in")
    (row,) = _rows(server, WebSession, WebSession.id == session_id)
    assert row.ended is not None
    (key,) = _rows(server, AccessKey, AccessKey.id == row.access_key_id)
    assert key.revoked is not None
    # The person's own key is theirs: signing out of a browser does not end it.
    who = httpx.get(f"{server.url}/api/whoami", headers={"Authorization": f"Bearer {pasted}"})
    assert who.status_code == 200


def test_revoking_the_sessions_key_ends_the_session(page: Page, server: Running) -> None:
    name = new_user(server)
    sign_in(page, server, name)
    expect(page.locator("#me-name")).to_have_text(name)
    session_id = _session_cookie(page)["value"].split(".")[0]
    (row,) = _rows(server, WebSession, WebSession.id == session_id)
    with server.api() as api:
        assert api.delete(f"/api/access-keys/{row.access_key_id}").status_code == 204
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/sign-in")
    ended = _rows(server, AuditEvent, AuditEvent.kind == "web.session.ended")
    assert any(session_id in e.detail for e in ended)


def test_the_next_page_after_sign_in_stays_on_this_site(page: Page, server: Running) -> None:
    name = new_user(server)
    page.goto(f"{server.url}/sign-in?next=//evil.example/")
    form = page.locator("form", has=page.get_by_label("Password"))
    form.get_by_label("Name").fill(name)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/")


def test_pages_carry_a_strict_policy_and_no_inline_script(server: Running) -> None:
    for path in ("/sign-in",):
        response = httpx.get(f"{server.url}{path}")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers.get_list("referrer-policy") == ["same-origin"]
        assert response.headers["cache-control"] == "no-store"
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.text)
        assert inline == [], path
        assert " on" not in re.sub(r"\s+", " ", "".join(re.findall(r"<[^>]+>", response.text)))


def test_a_form_without_its_token_is_refused(server: Running) -> None:
    name = new_user(server)
    form = {"method": "password", "name": name, "password": PASSWORD}
    response = httpx.post(f"{server.url}/sign-in", data=form)
    assert response.status_code == 403
    assert "reload" in response.text
    assert "jot_session" not in response.headers.get("set-cookie", "")
