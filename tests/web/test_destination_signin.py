"""Browser sign-in at destinations, for real (issue 18): Chromium opens two web apps behind
nginx (examples/nginx/jot-browser.conf) and ``jot connector forward-auth --public-url``, each
its own destination and OpenID client of a real authority.

Open an app → the authority's sign-in page → password → back at the page asked for, with
X-Jot-User/X-Jot-Roles at the app; the second app signs in without a password (single
sign-on); a return address elsewhere is refused; the session cookie is a JWE that only the
destination's key opens; a removed grant ends access; sign-out ends it at the app and at
the authority; API clients with a bearer token are answered as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jot.destination.browser_cookie import CookieJar, cookie_key
from jot.destination.tls import write_self_signed
from tests.destination.servers import free_port, jot_process, serve_in_thread, stop, wait_for_port
from tests.e2e.test_nginx import NGINX_MAIN, nginx_binary
from tests.oidc.oidc_harness import Running

from .conftest import PASSWORD, new_user, register_destination

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).parents[2] / "examples" / "nginx" / "jot-browser.conf"


@dataclass
class App:
    name: str
    url: str
    secret: str


@dataclass
class Stack:
    server: Running
    apps: dict[str, App]
    user: str
    seen: list[dict[str, str]] = field(default_factory=list)


def _upstream(seen: list[dict[str, str]]) -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        seen.append(headers)
        return JSONResponse(
            {
                "path": request.url.path,
                "query": request.url.query,
                "user": headers.get("x-jot-user"),
                "roles": headers.get("x-jot-roles"),
            }
        )

    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


@contextlib.contextmanager
def _nginx(
    prefix: Path, port: int, auth_url: str, app_url: str, cert: Path, key: Path
) -> Iterator[None]:
    (prefix / "tmp").mkdir(parents=True)
    conf = EXAMPLE.read_text()
    conf = conf.replace("127.0.0.1:8081", auth_url.removeprefix("http://"))
    conf = conf.replace("127.0.0.1:8080", app_url.removeprefix("http://"))
    conf = conf.replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    conf = conf.replace("/etc/jot/tls/web.example.pem", str(cert))
    conf = conf.replace("/etc/jot/tls/web.example.key", str(key))
    (prefix / "jot.conf").write_text(conf)
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(NGINX_MAIN.format(prefix=prefix, user=user))
    process = subprocess.Popen(
        [
            nginx_binary(),
            "-p",
            str(prefix),
            "-e",
            str(prefix / "error.log"),
            "-c",
            str(prefix / "nginx.conf"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=5)
    except RuntimeError:
        stop(process)
        raise RuntimeError((prefix / "error.log").read_text()[-1000:]) from None
    try:
        yield
    finally:
        stop(process)


@pytest.fixture(scope="module")
def stack(server: Running, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("browser")
    user = new_user(server, group="staff")
    cert, key = write_self_signed(["127.0.0.1", "localhost"], tmp)
    # Two hosts (cookies are per host, not per port): one app on each.
    hosts = {"web": "127.0.0.1", "wiki": "localhost"}
    apps: dict[str, App] = {}
    seen: list[dict[str, str]] = []
    with contextlib.ExitStack() as stack:
        app_url = stack.enter_context(serve_in_thread(_upstream(seen)))
        for name, host in hosts.items():
            port = free_port()
            url = f"https://{host}:{port}"
            registered = register_destination(server, name, f"{url}/.jot/callback")
            secret = registered.secret
            args = ("--issuer", server.url, "--name", name, "--public-url", url)
            args += ("--listen", "127.0.0.1:0", *registered.options(tmp, name))
            auth_url = stack.enter_context(jot_process("connector", "forward-auth", *args))
            stack.enter_context(_nginx(tmp / name, port, auth_url, app_url, cert, key))
            apps[name] = App(name, url, secret)
        yield Stack(server, apps, user, seen)


def _shown(page: Page) -> dict[str, str]:
    return json.loads(page.locator("body").inner_text())


def _sign_in_form(page: Page, name: str) -> None:
    form = page.locator("form", has=page.get_by_label("Password"))
    form.get_by_label("Name").fill(name)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()


def refused_soon(page: Page, url: str) -> None:
    """The destination follows its grants (long-poll): a request is refused within seconds."""
    for _ in range(50):
        response = page.goto(url)
        if response is not None and response.status == 403:
            return
        page.wait_for_timeout(200)
    pytest.fail(f"{url} was still allowed 10 seconds after the grant went")


def test_sign_in_once_for_every_app(page: Page, stack: Stack) -> None:
    web, wiki = stack.apps["web"], stack.apps["wiki"]
    page.goto(f"{web.url}/reports/today?x=1&y=2")
    assert page.url.startswith(f"{stack.server.url}/sign-in"), page.url
    _sign_in_form(page, stack.user)
    page.wait_for_url(f"{web.url}/reports/today?x=1&y=2")
    shown = _shown(page)
    assert shown == {
        "path": "/reports/today",
        "query": "x=1&y=2",
        "user": stack.user,
        "roles": "viewer",
    }
    # The second app: no password this time (the authority's session signs the browser in).
    page.goto(f"{wiki.url}/start")
    page.wait_for_url(f"{wiki.url}/start")
    assert _shown(page)["user"] == stack.user
    cookies = {c["domain"]: c for c in page.context.cookies() if c["name"] == "__Host-jot_session"}
    assert set(cookies) == {"127.0.0.1", "localhost"}
    session = cookies["127.0.0.1"]
    assert session["httpOnly"]
    assert session["secure"]
    assert session["sameSite"] == "Lax"
    assert len(session["value"]) < 4000
    # A JWE that only the destination's key opens: not with another destination's key, and
    # nothing of the person inside shows without it.
    assert session["value"].count(".") == 4
    assert CookieJar(cookie_key(wiki.secret, "web"), secure=True).open(session["value"]) is None
    opened = CookieJar(cookie_key(web.secret, "web"), secure=True).session(session["value"])
    assert opened is not None
    assert opened.token.count(".") == 2
    assert stack.user not in session["value"]


def test_a_return_address_elsewhere_is_refused(page: Page, stack: Stack) -> None:
    web = stack.apps["web"]
    for rd in ("https://evil.example/", "//evil.example/", "https%3A%2F%2Fevil.example%2F"):
        response = page.goto(f"{web.url}/.jot/signin?rd={rd}")
        assert response is not None
        assert response.status == 400
        assert page.url.startswith(web.url)
        assert "not on this destination" in page.content()


def test_api_clients_keep_their_bearer_answers(stack: Stack) -> None:
    web = stack.apps["web"]
    with httpx.Client(verify=False, timeout=10) as http:
        refused = http.get(f"{web.url}/api", headers={"Authorization": "Bearer not.a.token"})
        assert refused.status_code == 401
        assert "location" not in refused.headers
        browser = http.get(f"{web.url}/api")
        assert browser.status_code == 302
        assert browser.headers["location"] == "/.jot/signin?rd=/api"


def test_a_removed_grant_and_sign_out_end_access(page: Page, stack: Stack) -> None:
    web, wiki = stack.apps["web"], stack.apps["wiki"]
    user = new_user(stack.server)
    with stack.server.api() as api:
        made = api.post(
            "/api/grants", json={"subject": f"user:{user}", "role": "editor", "resource": "wiki"}
        )
        api.post(
            "/api/grants", json={"subject": f"user:{user}", "role": "editor", "resource": "web"}
        )
    page.goto(f"{wiki.url}/page")
    _sign_in_form(page, user)
    page.wait_for_url(f"{wiki.url}/page")
    assert _shown(page)["roles"] == "editor"
    with stack.server.api() as api:
        assert api.delete(f"/api/grants/{made.json()['id']}").status_code == 204
    refused_soon(page, f"{wiki.url}/page")
    # Sign out at a destination: its cookie goes, and the authority asks to end its session.
    page.goto(f"{web.url}/other")
    page.wait_for_url(f"{web.url}/other")
    page.goto(f"{web.url}/.jot/signout")
    assert page.url.startswith(f"{stack.server.url}/oidc/logout")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Signed out")
    page.goto(f"{web.url}/other")
    assert page.url.startswith(f"{stack.server.url}/sign-in"), page.url
