"""Browser sign-in where the app's own front door signs browsers in (issue 18), for real: the
generic proxy (``jot connector proxy --public-url``, a real process, TLS) in front of a small
app, and a WSGI app behind ``JotWSGIMiddleware(browser=BrowserSignIn(…))`` served by wsgiref;
a real authority and a real Chromium. Both sign in through the same flows as forward auth
(:mod:`jot.destination.browser_flow`).

For each: open → the authority's sign-in → back at the page asked for, the identity seen by
the app; bearer API clients are answered as before; a return address elsewhere is refused; a
removed grant ends access; sign-out ends the session.
"""

from __future__ import annotations

import contextlib
import json
import socketserver
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from playwright.sync_api import Page, expect

from jot.authority.web import sessions
from jot.destination.browser import BrowserSettings, BrowserSignIn
from jot.destination.tls import write_self_signed
from jot.destination.verifier import Verifier
from jot.destination.wsgi import JotWSGIMiddleware, wsgi_identity
from tests.destination.servers import free_port, jot_process, serve_in_thread
from tests.oidc.oidc_harness import Running

from .conftest import new_user, register_destination
from .test_destination_signin import _sign_in_form, _upstream, refused_soon

pytestmark = pytest.mark.e2e

#: The destinations' token lifetime here: renewal (a minute before the end) is due after 5 s.
LIFETIME = 65


@dataclass(frozen=True)
class Front:
    name: str
    url: str
    #: The session cookie's name (``__Host-`` only on https).
    cookie: str


@dataclass(frozen=True)
class Stack:
    server: Running
    fronts: dict[str, Front]
    user: str


def _echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    identity = wsgi_identity(environ)
    body = json.dumps(
        {
            "path": environ["PATH_INFO"],
            "query": environ.get("QUERY_STRING", ""),
            "user": environ.get("REMOTE_USER"),
            "roles": ",".join(sorted(identity.roles)) if identity else None,
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


@contextlib.contextmanager
def _wsgi(server: Running, tmp: Path) -> Iterator[Front]:
    """The WSGI app ``notes`` on http://127.0.0.1 (loopback: no TLS needed)."""
    httpd = make_server(
        "127.0.0.1", 0, lambda e, s: [], server_class=_ThreadingServer, handler_class=_Quiet
    )
    url = f"http://127.0.0.1:{httpd.server_port}"
    registered = register_destination(server, "notes", f"{url}/.jot/callback", lifetime=LIFETIME)
    verifier = Verifier(server.url, audience="notes", access_key=registered.access_key)
    browser = BrowserSignIn(
        BrowserSettings(server.url, "notes", registered.secret, (url,)), verifier
    )
    httpd.set_app(JotWSGIMiddleware(_echo, verifier=verifier, browser=browser))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Front("notes", url, "jot_session")
    finally:
        httpd.shutdown()
        httpd.server_close()
        browser.close()
        verifier.close()


@contextlib.contextmanager
def _proxy(server: Running, tmp: Path, upstream: str) -> Iterator[Front]:
    """``jot connector proxy`` for ``shop`` on https://localhost, in front of ``upstream``."""
    cert, key = write_self_signed(["127.0.0.1", "localhost"], tmp)
    port = free_port()
    url = f"https://localhost:{port}"
    registered = register_destination(server, "shop", f"{url}/.jot/callback", lifetime=LIFETIME)
    with jot_process(
        "connector", "proxy", "--issuer", server.url, "--name", "shop",
        *registered.options(tmp, "shop"), "--public-url", url,
        "--upstream", upstream, "--tls-cert", str(cert), "--tls-key", str(key),
        "--listen", f"127.0.0.1:{port}",
    ):  # fmt: skip
        yield Front("shop", url, "__Host-jot_session")


@pytest.fixture(scope="module")
def stack(server: Running, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("fronts")
    user = new_user(server, group="staff")
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(serve_in_thread(_upstream([])))
        fronts = {
            "proxy": stack.enter_context(_proxy(server, tmp, upstream)),
            "wsgi": stack.enter_context(_wsgi(server, tmp)),
        }
        yield Stack(server, fronts, user)


FRONTS = pytest.mark.parametrize("kind", ["proxy", "wsgi"])


def _shown(page: Page) -> dict[str, str]:
    return json.loads(page.locator("body").inner_text())


def _sign_in(page: Page, server: Running, start: str, name: str) -> None:
    page.goto(start)
    assert page.url.startswith(f"{server.url}/sign-in"), page.url
    _sign_in_form(page, name)
    page.wait_for_url(start)


@FRONTS
def test_sign_in_and_back_at_the_page(page: Page, stack: Stack, kind: str) -> None:
    front = stack.fronts[kind]
    _sign_in(page, stack.server, f"{front.url}/reports/today?x=1&y=2", stack.user)
    assert _shown(page) == {
        "path": "/reports/today",
        "query": "x=1&y=2",
        "user": stack.user,
        "roles": "viewer",
    }
    cookies = [c for c in page.context.cookies() if c["name"] == front.cookie]
    assert len(cookies) == 1
    assert cookies[0]["httpOnly"]
    assert cookies[0]["sameSite"] == "Lax"
    assert cookies[0]["secure"] == front.url.startswith("https://")
    assert stack.user not in cookies[0]["value"]


@FRONTS
def test_the_renewed_cookie_reaches_the_browser(page: Page, stack: Stack, kind: str) -> None:
    front = stack.fronts[kind]
    _sign_in(page, stack.server, f"{front.url}/start", stack.user)
    renewal_reaches_the_browser(page, f"{front.url}/later", front.cookie, stack.user)


def renewal_reaches_the_browser(page: Page, url: str, name: str, user: str) -> None:
    """Once the jot in the session cookie is due for renewal, one answer carries the new
    cookie to the browser, and the next request has nothing to renew."""
    first = _cookie(page, url, name)
    time.sleep(LIFETIME - 60 + 1)  # The jot inside now has less than a minute left.
    response = page.goto(url)
    assert response is not None
    assert response.status == 200
    assert _shown(page)["user"] == user
    renewed = _cookie(page, url, name)
    assert renewed != first
    assert name in response.all_headers()["set-cookie"]
    again = page.goto(url)
    assert again is not None
    assert again.status == 200
    assert "set-cookie" not in again.all_headers()
    assert _cookie(page, url, name) == renewed


@FRONTS
def test_bearer_clients_and_return_addresses(page: Page, stack: Stack, kind: str) -> None:
    front = stack.fronts[kind]
    with stack.server.api() as api:
        key = api.post("/api/access-keys", json={"identity": stack.user}).json()["access_key"]
    with httpx.Client(base_url=stack.server.url, timeout=10) as authority:
        made = authority.post(
            "/api/tokens",
            json={"destination": front.name},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert made.status_code == 201, made.text
    token = made.json()["token"]
    with httpx.Client(base_url=front.url, verify=False, timeout=10) as http:
        answer = http.get("/api/x", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        assert answer.json()["user"] == stack.user
        refused = http.get("/api/x", headers={"Authorization": "Bearer not.a.token"})
        assert refused.status_code == 401
        assert "location" not in refused.headers
        browser = http.get("/api/x?a=1")
        assert browser.status_code == 302
        assert browser.headers["location"] == "/.jot/signin?rd=%2Fapi%2Fx%3Fa%3D1"
        assert http.post("/api/x").status_code == 401
    for rd in ("https://evil.example/", "//evil.example/", "https%3A%2F%2Fevil.example%2F"):
        response = page.goto(f"{front.url}/.jot/signin?rd={rd}")
        assert response is not None
        assert response.status == 400
        assert "not on this destination" in page.content()


@FRONTS
def test_a_removed_grant_and_sign_out_end_access(page: Page, stack: Stack, kind: str) -> None:
    front = stack.fronts[kind]
    user = new_user(stack.server)
    with stack.server.api() as api:
        grant = {"subject": f"user:{user}", "role": "editor", "resource": front.name}
        made = api.post("/api/grants", json=grant)
        assert made.status_code == 201
    _sign_in(page, stack.server, f"{front.url}/page", user)
    assert _shown(page)["roles"] == "editor"
    with stack.server.api() as api:
        assert api.delete(f"/api/grants/{made.json()['id']}").status_code == 204
    refused_soon(page, f"{front.url}/page")
    # Sign out: the cookie goes here, and the authority's session ends after one click.
    page.goto(f"{front.url}/.jot/signout")
    assert page.url.startswith(f"{stack.server.url}/oidc/logout")
    assert not [c for c in page.context.cookies() if c["name"] == front.cookie]
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Signed out")
    page.goto(f"{front.url}/page")
    assert page.url.startswith(f"{stack.server.url}/sign-in"), page.url


def test_prompt_login_shows_the_form_to_a_signed_in_browser(page: Page, stack: Stack) -> None:
    """OIDC ``prompt=login``: a browser with a live session signs in again, and the old
    session ends (one per browser)."""
    with serve_in_thread(_upstream([])) as client:
        _fresh_sign_in(page, stack, f"{client}/cb")


def _fresh_sign_in(page: Page, stack: Stack, callback: str) -> None:
    register_destination(stack.server, "fresh", callback)
    ask = {"client_id": "fresh", "redirect_uri": callback, "response_type": "code",
           "scope": "openid", "state": "st"}  # fmt: skip
    authorize = f"{stack.server.url}/oidc/authorize?"
    page.goto(authorize + urlencode(ask))
    _sign_in_form(page, stack.user)
    page.wait_for_url(f"{callback}?**")
    name = sessions.cookie_name(stack.server.authority)
    before = _cookie(page, stack.server.url, name)
    # Signed in: without prompt=login, straight back with a code (no form).
    page.goto(authorize + urlencode(ask))
    page.wait_for_url(f"{callback}?**")
    assert "code" in parse_qs(urlsplit(page.url).query)
    # With it: the sign-in form although the session is live, then back with a code.
    page.goto(authorize + urlencode({**ask, "prompt": "login"}))
    assert urlsplit(page.url).path == "/sign-in", page.url
    expect(page.get_by_role("status")).to_contain_text("asks you to sign in again")
    _sign_in_form(page, stack.user)
    page.wait_for_url(f"{callback}?**")
    assert "code" in parse_qs(urlsplit(page.url).query)
    assert _cookie(page, stack.server.url, name) != before
    assert sessions.find(stack.server.authority, before, "127.0.0.1") is None


def _cookie(page: Page, url: str, name: str) -> str:
    return next(c["value"] for c in page.context.cookies(url) if c["name"] == name)
