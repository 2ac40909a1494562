"""The browser flow against panva's certified `oidc-provider` (npm), installed by the test
set-up into ``tests/oidc/panva/node_modules`` with ``npm ci`` on first use."""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from test_oidc_sessions import _age_session

from jot.authority.access import group_names
from jot.authority.context import load_identity
from jot.authority.models import AuditEvent

PANVA = Path(__file__).parent / "panva"
ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def _installed() -> Path:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        # CI needs this test: a missing Node.js is a broken machine, not a reason to skip.
        pytest.fail(
            "Node.js (node and npm) is not installed: panva's oidc-provider cannot run; "
            "install Debian's nodejs and npm packages"
        )
    # Two test workers may get here at once: one installs, the other waits for it.
    with open(PANVA / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (PANVA / "node_modules" / "oidc-provider").is_dir():
            done = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"],
                cwd=PANVA,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert done.returncode == 0, f"npm ci failed:\n{done.stderr[-2000:]}"
    return Path(node)


@pytest.fixture
def panva(server) -> Iterator[str]:
    """panva's provider with one client whose redirect URI is this authority's callback."""
    node = _installed()
    callback = f"{server.url}/oidc/panva/callback"
    process = subprocess.Popen(
        [str(node), "server.mjs", "jot-panva", "panva-secret", callback],
        cwd=PANVA,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PORT "), f"panva's provider did not start: {line!r}"
        issuer = f"http://127.0.0.1:{int(line.split()[1])}"
        with server.api() as api:
            body = {
                "name": "panva",
                "issuer": issuer,
                "client_id": "jot-panva",
                "client_secret": "panva-secret",
                "scopes": ["openid", "email", "profile", "offline_access"],
            }
            assert api.post("/api/providers", json=body).status_code == 201
        yield issuer
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def _login(server, browser: httpx.Client) -> httpx.Response:
    login_page = browser.get(f"{server.url}/oidc/panva/login")
    assert login_page.status_code == 200, login_page.text[:300]
    consent = _submit(browser, login_page, {"login": "alice", "password": "any"})
    assert "/interaction/" in str(consent.url)
    return _submit(browser, consent, {})


def _submit(browser: httpx.Client, page: httpx.Response, data: dict[str, str]) -> httpx.Response:
    found = ACTION.search(page.text)
    assert found is not None, page.text[:500]
    hidden = dict(HIDDEN.findall(page.text))
    return browser.post(page.url.join(found.group(1)), data={**hidden, **data})


def test_browser_login_with_panva(server, panva, browser) -> None:
    done = _login(server, browser)
    assert done.status_code == 200, done.text[:500]
    assert "logged in as alice@example.com" in done.text
    with server.authority.db.transaction(write=False) as session:
        identity = load_identity(session, "alice@example.com")
        assert identity is not None
        # panva puts scope claims in userinfo (not the ID token): jot fetched them there.
        assert group_names(session, identity.id) == ["dev", "ops"]


def test_revalidation_with_panva(server, panva, browser) -> None:
    """offline_access (with prompt=consent) gets a refresh token, which renews the login."""
    page = _login(server, browser)
    start = page.text.index("jot_ak_")
    key = page.text[start : start + 52]
    with server.api() as api:
        assert (
            api.post("/api/destinations", json={"name": "web", "kind": "http"}).status_code == 201
        )
        grant = {"subject": "group:dev", "role": "viewer", "resource": "web"}
        assert api.post("/api/grants", json=grant).status_code == 201
    _age_session(server, key)
    token = httpx.post(
        f"{server.url}/api/tokens",
        json={"destination": "web"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert token.status_code == 201, token.text
    with server.authority.db.transaction(write=False) as session:
        kinds = list(
            session.scalars(select(AuditEvent.kind).where(AuditEvent.kind.startswith("oidc.")))
        )
    assert "oidc.revalidated" in kinds
