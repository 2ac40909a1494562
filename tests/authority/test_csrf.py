"""Cross-site forms (issue 11 item 7): the rule of jot.authority.csrf, and the device-code
confirmation form that uses it."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from jot.authority.app import create_app
from jot.authority.csrf import FIELD, CsrfRefused, Forms

from .conftest import ISSUER

KEY = b"k" * 32
ACTION = "/oidc/device"


def _request(
    headers: dict[str, str] | None = None, cookies: dict[str, str] | None = None
) -> Request:
    raw = {"host": "authority.test", **(headers or {})}
    if cookies:
        raw["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    scope = {
        "type": "http",
        "method": "POST",
        "path": ACTION,
        "headers": [(k.lower().encode(), v.encode()) for k, v in raw.items()],
    }
    return Request(scope)


def _issued(forms: Forms) -> tuple[str, dict[str, str]]:
    issued = forms.issue(_request(), ACTION)
    assert issued.new
    return issued.token, {issued.cookie: issued.browser}


def test_a_token_is_bound_to_its_browser_and_form() -> None:
    forms = Forms(KEY, ISSUER)
    token, cookies = _issued(forms)
    forms.verify(_request(cookies=cookies), ACTION, token)
    other_token, other_cookies = _issued(forms)
    refusals = [
        (cookies, None),  # No token.
        (cookies, other_token),  # Another browser's token.
        (other_cookies, token),
        ({}, token),  # No cookie.
    ]
    for jar, submitted in refusals:
        with pytest.raises(CsrfRefused):
            forms.verify(_request(cookies=jar), ACTION, submitted)
    with pytest.raises(CsrfRefused):
        forms.verify(_request(cookies=cookies), "/another/form", token)
    with pytest.raises(CsrfRefused):  # Another key (another authority) made it.
        Forms(b"o" * 32, ISSUER).verify(_request(cookies=cookies), ACTION, token)


def test_the_same_browser_keeps_its_id() -> None:
    forms = Forms(KEY, ISSUER)
    token, cookies = _issued(forms)
    again = forms.issue(_request(cookies=cookies), ACTION)
    assert not again.new
    assert again.token == token


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "http://authority.test.evil.example"},
        {"referer": "https://evil.example/page"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://authority.test", "sec-fetch-site": "cross-site"},
    ],
)
def test_posts_from_other_sites_are_refused(headers: dict[str, str]) -> None:
    forms = Forms(KEY, ISSUER)
    token, cookies = _issued(forms)
    with pytest.raises(CsrfRefused, match="another site"):
        forms.verify(_request(headers, cookies), ACTION, token)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": "http://authority.test"},
        {"origin": "http://AUTHORITY.test:80"},
        {"referer": "http://authority.test/oidc/device?user_code=X"},
        {"sec-fetch-site": "same-origin", "origin": "http://authority.test"},
    ],
)
def test_posts_from_the_page_itself_pass(headers: dict[str, str]) -> None:
    forms = Forms(KEY, ISSUER)
    token, cookies = _issued(forms)
    forms.verify(_request(headers, cookies), ACTION, token)


def test_https_issuers_get_a_host_only_secure_cookie() -> None:
    issued = Forms(KEY, "https://auth.example.com").issue(_request(), ACTION)
    assert issued.cookie == "__Host-jot_csrf"
    assert issued.secure
    field = issued.field()
    assert f"name='{FIELD}'" in field
    assert issued.token in html.unescape(field)


# The device-code confirmation form, in process.


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jot.db'}"


@pytest.fixture
async def browser(started) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
        yield http


async def _form_token(browser: httpx.AsyncClient) -> str:
    page = await browser.get("/oidc/device")
    assert page.status_code == 200
    found = re.search(r"name='csrf_token' value='([^']+)'", page.text)
    assert found is not None
    return html.unescape(found.group(1))


@pytest.mark.anyio
async def test_the_device_form_refuses_a_post_from_another_site(
    browser: httpx.AsyncClient,
) -> None:
    # What an attacker's page makes the victim's browser send: no token, another origin.
    forged = await browser.post(
        "/oidc/device",
        data={"user_code": "BCDF-GHJK"},
        headers={"origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert "another site" in forged.text
    token = await _form_token(browser)
    cross = await browser.post(
        "/oidc/device",
        data={"user_code": "BCDF-GHJK", "csrf_token": token},
        headers={"origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    no_token = await browser.post("/oidc/device", data={"user_code": "BCDF-GHJK"})
    assert no_token.status_code == 403
    assert "reload" in no_token.text
    # The page itself gets through to the code check.
    own = await browser.post(
        "/oidc/device",
        data={"user_code": "BCDF-GHJK", "csrf_token": token},
        headers={"origin": ISSUER},
    )
    assert own.status_code == 400
    assert "unknown or expired" in own.text


@pytest.mark.anyio
async def test_the_device_form_cookie_is_strict(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/oidc/device")
    cookie = page.headers["set-cookie"].lower()
    assert "samesite=strict" in cookie
    assert "httponly" in cookie
    assert "path=/" in cookie
