"""The access-requests page: a person asks; an approver answers; nobody answers their own,
and nobody else's answer gets past the API handler's rules."""

from __future__ import annotations

import html

import httpx
import pytest

from jot.authority.app import Started

from .conftest import bearer
from .pages import form_token, person, session_token, signed_in

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


@pytest.fixture
async def world(admin: httpx.AsyncClient, admin_key: str) -> httpx.AsyncClient:
    """alice asks; bob holds ``approver`` on ``jot.web``; carol holds nothing."""
    for name in ("alice", "bob", "carol"):
        await person(admin, admin_key, name, PASSWORD)
    assert (await admin.post("/api/destinations", json={"name": "web"})).status_code == 201
    grant = {"subject": "user:bob", "role": "approver", "resource": "jot.web"}
    assert (await admin.post("/api/grants", json=grant)).status_code == 201
    return admin


async def _post(browser: httpx.AsyncClient, action: str, **form: str) -> httpx.Response:
    token = form_token((await browser.get("/requests")).text, action)
    return await browser.post(action, data={**form, "csrf_token": token})


async def _forged(
    started: Started, browser: httpx.AsyncClient, action: str, **form: str
) -> httpx.Response:
    """A post the person's page does not offer them, with a valid CSRF token."""
    token = session_token(started, browser, action)
    return await browser.post(action, data={**form, "csrf_token": token})


async def _ask(browser: httpx.AsyncClient) -> str:
    asked = await _post(
        browser, "/requests", role="editor", resource="web", duration="3600", reason="ticket 42"
    )
    assert asked.status_code == 303, asked.text
    page = await browser.get(asked.headers["location"])
    assert "waits for an answer" in html.unescape(page.text)
    return html.unescape(page.text).split("request ")[1].split(" ")[0]


async def test_ask_approve_and_the_grant_runs(world: httpx.AsyncClient, started: Started) -> None:
    alice = await signed_in(started, "alice", PASSWORD)
    request_id = await _ask(alice)
    bob = await signed_in(started, "bob", PASSWORD)
    waiting = (await bob.get("/requests")).text
    assert f'data-request="{request_id}"' in waiting
    assert "ticket 42" in waiting
    done = await _post(bob, "/requests/answer", id=request_id, verdict="approve", note="ok")
    assert done.status_code == 303, done.text
    mine = (await alice.get("/requests")).text
    assert "approved (until" in mine
    assert "bob: ok" in mine
    grants = (await world.get("/api/grants", params={"subject": "user:alice"})).json()["items"]
    assert [(g["role"], g["resource"]) for g in grants] == [("editor", "web")]
    assert grants[0]["expires"] is not None
    for browser in (alice, bob):
        await browser.aclose()


async def test_nobody_answers_their_own_or_anothers_they_may_not(
    world: httpx.AsyncClient, started: Started, admin_key: str
) -> None:
    alice = await signed_in(started, "alice", PASSWORD)
    request_id = await _ask(alice)
    assert (
        f'data-request="{request_id}"'
        not in (await alice.get("/requests")).text.split('id="ask-title"')[0]
    )  # Not among those waiting for her answer.
    own = await _forged(started, alice, "/requests/answer", id=request_id, verdict="approve")
    assert own.status_code == 403
    assert "you cannot answer your own request" in html.unescape(own.text)
    carol = await signed_in(started, "carol", PASSWORD)
    assert f'data-request="{request_id}"' not in (await carol.get("/requests")).text
    other = await _forged(started, carol, "/requests/answer", id=request_id, verdict="approve")
    assert other.status_code == 404  # Carol is not told the request exists.
    cancel = await _forged(started, carol, "/requests/cancel", id=request_id)
    assert cancel.status_code == 404
    unsigned = await alice.post("/requests/answer", data={"id": request_id, "verdict": "deny"})
    assert unsigned.status_code == 403
    assert "Form refused" in unsigned.text
    shown = await world.get(f"/api/access-requests/{request_id}", headers=bearer(admin_key))
    assert shown.json()["state"] == "pending"  # None of that changed it.
    cancelled = await _post(alice, "/requests/cancel", id=request_id)
    assert cancelled.status_code == 303
    assert (await world.get(f"/api/access-requests/{request_id}")).json()["state"] == "cancelled"
    for browser in (alice, carol):
        await browser.aclose()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"role": "", "resource": "web", "duration": "3600", "reason": "x"}, "role"),
        ({"role": "r", "resource": "nowhere", "duration": "3600", "reason": "x"}, "nowhere"),
        ({"role": "r", "resource": "web", "duration": "999999999", "reason": "x"}, "duration"),
        ({"role": "r", "resource": "web", "duration": "2592000", "reason": "x"}, "longest"),
        ({"role": "r", "resource": "web", "duration": "3600", "reason": ""}, "reason"),
    ],
)
async def test_a_bad_request_is_refused_in_one_line_and_kept(
    world: httpx.AsyncClient, started: Started, form: dict, message: str
) -> None:
    alice = await signed_in(started, "alice", PASSWORD)
    refused = await _post(alice, "/requests", **form)
    assert refused.status_code in (400, 404), refused.text
    assert message in html.unescape(refused.text)
    listed = (await world.get("/api/access-requests")).json()["items"]
    assert listed == []
    await alice.aclose()
