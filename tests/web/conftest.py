"""Fixtures of the browser tests: one Chromium per test session (per xdist worker), one
authority per test module, a fresh browser context (cookies, storage) per test.

The browser is Debian's ``chromium`` (``scripts/install-chromium``), driven by Playwright;
Playwright downloads no browser of its own.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.oidc import oidc_harness

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery"


class _Loop:
    """Playwright's sync API keeps its event loop marked as running in this thread between
    calls (asyncio knows threads, not greenlets), and an anyio test that runs later in the
    same worker then cannot start a loop of its own. The mark is set only while a browser
    test runs (:func:`context`), and taken away in between."""

    def __init__(self) -> None:
        self.loop = asyncio._get_running_loop()

    def lend(self) -> None:
        asyncio._set_running_loop(self.loop)

    def take_back(self) -> None:
        asyncio._set_running_loop(None)


@pytest.fixture(scope="session")
def playwright_loop() -> Iterator[tuple[Browser, _Loop]]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run scripts/install-chromium (make test does)")
    with sync_playwright() as playwright:
        # No sandbox: the suite runs as root in CI, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        loop = _Loop()
        loop.take_back()
        yield browser, loop
        loop.lend()
        browser.close()


@pytest.fixture
def chromium(playwright_loop: tuple[Browser, _Loop]) -> Iterator[Browser]:
    """The one browser of this worker, for one test."""
    browser, loop = playwright_loop
    loop.lend()
    try:
        yield browser
    finally:
        loop.take_back()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[oidc_harness.Running]:
    with oidc_harness.authority(tmp_path_factory.mktemp("web") / "data") as running:
        yield running


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    # The destinations' tests serve https with self-signed certificates.
    made = chromium.new_context(ignore_https_errors=True)
    made.set_default_timeout(15_000)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def new_user(server: oidc_harness.Running, *, admin: bool = False, group: str | None = None) -> str:
    """A fresh user with :data:`PASSWORD` (an admin of jot when ``admin``; a member of
    ``group``, made if need be)."""
    name = f"u{secrets.token_hex(4)}@example.com"
    with server.api() as api:
        made = api.post("/api/users", json={"name": name, "kind": "user", "password": PASSWORD})
        assert made.status_code == 201, made.text
        if group is not None:
            api.post("/api/groups", json={"name": group})  # 409 when it is there already.
            joined = api.post(f"/api/groups/{group}/members", json={"name": name})
            assert joined.status_code in (200, 201, 204), joined.text
        if admin:
            grant = {"subject": f"user:{name}", "role": "admin", "resource": "jot"}
            assert api.post("/api/grants", json=grant).status_code == 201
    return name


def sign_in(page: Page, server: oidc_harness.Running, name: str, password: str = PASSWORD) -> None:
    """What a person does: open the sign-in page, type name and password, press the button."""
    page.goto(f"{server.url}/sign-in")
    form = page.locator("form", has=page.get_by_label("Password"))
    form.get_by_label("Name").fill(name)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


@dataclass(frozen=True)
class Registered:
    """A destination registered as an OpenID client, with a machine that reads its grants."""

    secret: str
    access_key: str


def register_destination(
    server: oidc_harness.Running,
    name: str,
    redirect_uri: str,
    group: str = "staff",
    lifetime: int | None = None,
) -> Registered:
    """Destination ``name`` (an OpenID client with ``redirect_uri``; its tokens live
    ``lifetime`` seconds), ``viewer`` for ``group``, and a machine with the connector grant
    on it (its access key)."""
    body: dict[str, object] = {"name": name, "oidc": {"redirect_uris": [redirect_uri]}}
    if lifetime is not None:
        body["lifetime"] = lifetime
    with server.api() as api:
        made = api.post("/api/destinations", json=body)
        assert made.status_code == 201, made.text
        grant = {"subject": f"group:{group}", "role": "viewer", "resource": name}
        assert api.post("/api/grants", json=grant).status_code == 201
        machine = f"{name}-connector"
        api.post("/api/users", json={"name": machine, "kind": "machine"})
        grant = {"subject": f"user:{machine}", "role": "connector", "resource": f"jot.{name}"}
        assert api.post("/api/grants", json=grant).status_code == 201
        key = api.post("/api/access-keys", json={"identity": machine}).json()["access_key"]
    return Registered(made.json()["oidc"]["client_secret"], key)
