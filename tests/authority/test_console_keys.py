"""Access keys made in the console ("My access"): the person confirms who they are again, so
the key outlives the browser session without outliving what made it; expiry within the
authority's ``access_key_lifetime``; every refusal leaves nothing behind."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import httpx
import pytest

from jot.authority.app import Started

from .conftest import bearer
from .pages import form_token, person, signed_in

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"
WEEK = 7 * 86400


@pytest.fixture
async def people(admin: httpx.AsyncClient, admin_key: str) -> httpx.AsyncClient:
    for name in ("alice", "bob"):
        await person(admin, admin_key, name, PASSWORD)
    return admin


async def _create(browser: httpx.AsyncClient, **form: str) -> httpx.Response:
    page = await browser.get("/")
    token = form_token(page.text, "/keys")
    return await browser.post(
        "/keys", data={"name": "laptop", "ttl": str(WEEK), **form, "csrf_token": token}
    )


def _shown(page: httpx.Response) -> str:
    found = re.search(r'<textarea id="new-key"[^>]*>([^<]+)</textarea>', page.text)
    assert found is not None, page.text
    return found.group(1)


async def _keys(admin: httpx.AsyncClient, name: str) -> list[dict]:
    listed = await admin.get("/api/access-keys", params={"identity": name})
    return [k for k in listed.json()["items"] if k["revoked"] is None]


async def _whoami(admin: httpx.AsyncClient, key: str) -> int:
    return (await admin.get("/api/whoami", headers=bearer(key))).status_code


async def test_with_the_password_a_key_outlives_the_session(
    people: httpx.AsyncClient, started: Started
) -> None:
    browser = await signed_in(started, "alice", PASSWORD)
    made = await _create(browser, password=PASSWORD)
    assert made.status_code == 201, made.text
    key = _shown(made)
    (row,) = [k for k in await _keys(people, "alice") if k["name"] == "laptop"]
    assert row["parent"] is None  # A login's key: a line of its own.
    lived = datetime.fromisoformat(row["expires"]) - datetime.fromisoformat(row["created"])
    assert lived == timedelta(seconds=WEEK)
    page = await browser.get("/")
    out = await browser.post("/sign-out", data={"csrf_token": form_token(page.text, "/sign-out")})
    assert out.status_code == 303
    assert await _whoami(people, key) == 200  # The session ended; the key did not.
    audit = (await people.get("/api/audit", params={"kind": "login.ok"})).json()["items"]
    assert audit[0]["detail"]["name"] == "laptop"
    await browser.aclose()


async def test_with_an_access_key_it_is_derived_from_that_key(
    people: httpx.AsyncClient, started: Started
) -> None:
    pasted = (await people.post("/api/access-keys", json={"identity": "alice"})).json()
    browser = await signed_in(started, "alice", PASSWORD)
    made = await _create(browser, access_key=pasted["access_key"])
    assert made.status_code == 201, made.text
    key = _shown(made)
    (row,) = [k for k in await _keys(people, "alice") if k["name"] == "laptop"]
    assert row["parent"] == pasted["key"]["id"]
    gone = await people.delete(f"/api/access-keys/{pasted['key']['id']}")
    assert gone.status_code == 204
    assert await _whoami(people, key) == 401  # Revoked with the key it was made from.
    await browser.aclose()


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"password": "wrong guess"}, 403, "wrong name or password"),
        ({"password": PASSWORD, "ttl": str(90 * 86400)}, 400, "expiry over the cap"),
        ({"password": PASSWORD, "ttl": "0"}, 400, "choose when the key expires"),
        ({"password": PASSWORD, "access_key": "jot_ak_x"}, 400, "not both"),
        ({}, 400, "confirm with your password or one of your access keys"),
        ({"access_key": "jot_ak_" + "a" * 12 + "_" + "b" * 32}, 400, "not valid"),
        ({"password": PASSWORD, "name": "\x1b[31m"}, 400, "key_name"),
    ],
)
async def test_refusals_say_why_and_make_nothing(
    people: httpx.AsyncClient, started: Started, form: dict, status: int, message: str
) -> None:
    browser = await signed_in(started, "alice", PASSWORD)
    before = await _keys(people, "alice")
    refused = await _create(browser, **form)
    assert refused.status_code == status, refused.text
    assert message in html.unescape(refused.text)
    assert 'id="new-key"' not in refused.text
    assert len(await _keys(people, "alice")) == len(before)
    assert (await browser.get("/")).status_code == 200  # Still signed in.
    await browser.aclose()


async def test_another_users_key_or_name_gets_nothing(
    people: httpx.AsyncClient, started: Started
) -> None:
    bobs = (await people.post("/api/access-keys", json={"identity": "bob"})).json()["access_key"]
    browser = await signed_in(started, "alice", PASSWORD)
    refused = await _create(browser, access_key=bobs)
    assert refused.status_code == 403
    assert "that access key is not yours" in refused.text
    bob_before = await _keys(people, "bob")
    # A forged field naming bob changes nothing: the key is always the signed-in person's.
    made = await _create(browser, password=PASSWORD, identity="bob", name="forged")
    assert made.status_code == 201
    assert [k["name"] for k in await _keys(people, "bob")] == [k["name"] for k in bob_before]
    assert "forged" in [k["name"] for k in await _keys(people, "alice")]
    await browser.aclose()


async def test_without_the_forms_csrf_token_nothing_is_made(
    people: httpx.AsyncClient, started: Started
) -> None:
    browser = await signed_in(started, "alice", PASSWORD)
    before = await _keys(people, "alice")
    form = {"name": "laptop", "ttl": str(WEEK), "password": PASSWORD}
    refused = await browser.post("/keys", data=form)
    assert refused.status_code == 403
    assert "Form refused" in refused.text
    other = form_token((await browser.get("/")).text, "/password")  # Another form's token.
    refused = await browser.post("/keys", data={**form, "csrf_token": other})
    assert refused.status_code == 403
    assert len(await _keys(people, "alice")) == len(before)
    await browser.aclose()
