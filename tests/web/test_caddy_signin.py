"""Caddy in front of a web app, for real (issue 18): Debian's caddy (scripts/install-caddy)
runs examples/caddy/Caddyfile as documented, with ``jot connector forward-auth --public-url
--signin-redirect``, a real authority and a real Chromium.

Open the app → the sign-in → back at the page with the identity at the app; the renewed
session cookie reaches the browser (the destination's jots live 65 seconds here, so renewal
is due after 5), and the next request renews nothing; bearer API clients are answered as
before; a return address elsewhere is refused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from jot.destination.tls import write_self_signed
from tests.destination.servers import free_port, jot_process, serve_in_thread, stop, wait_for_port
from tests.oidc.oidc_harness import Running

from .conftest import new_user, register_destination
from .test_app_signin import LIFETIME, _shown, _sign_in, renewal_reaches_the_browser
from .test_destination_signin import _upstream

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).parents[2] / "examples" / "caddy" / "Caddyfile"
COOKIE = "__Host-jot_session"
FORWARD_AUTH = ("connector", "forward-auth", "--name", "web", "--signin-redirect",
                "--listen", "127.0.0.1:0")  # fmt: skip


@dataclass(frozen=True)
class Site:
    server: Running
    url: str
    user: str
    seen: list[dict[str, str]]


def _caddy_binary() -> str:
    found = shutil.which("caddy") or "/usr/bin/caddy"
    if not Path(found).exists():
        pytest.fail("caddy is not installed: run scripts/install-caddy (make test does)")
    return found


@contextlib.contextmanager
def _caddy(
    tmp: Path, port: int, url: str, auth_url: str, app_url: str, cert: Path, key: Path
) -> Iterator[None]:
    conf = EXAMPLE.read_text()
    conf = conf.replace("127.0.0.1:8081", auth_url.removeprefix("http://"))
    conf = conf.replace("127.0.0.1:8080", app_url.removeprefix("http://"))
    conf = conf.replace("web.example {", f"{url} {{")
    conf = conf.replace("/etc/jot/tls/web.example.pem", str(cert))
    conf = conf.replace("/etc/jot/tls/web.example.key", str(key))
    # No admin endpoint, no certificates of its own, no listener on :80 for redirects.
    (tmp / "Caddyfile").write_text("{\n    admin off\n    auto_https off\n}\n\n" + conf)
    env = {**os.environ, "HOME": str(tmp), "XDG_DATA_HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp)}
    log = (tmp / "caddy.log").open("wb")
    process = subprocess.Popen(
        [_caddy_binary(), "run", "--config", str(tmp / "Caddyfile"), "--adapter", "caddyfile"],
        stdout=log, stderr=log, env=env,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=10)
    except RuntimeError:
        stop(process)
        raise RuntimeError((tmp / "caddy.log").read_text()[-2000:]) from None
    try:
        yield
    finally:
        stop(process)
        log.close()


@pytest.fixture(scope="module")
def site(server: Running, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("caddy")
    user = new_user(server, group="staff")
    cert, key = write_self_signed(["127.0.0.1", "localhost"], tmp)
    port = free_port()
    url = f"https://localhost:{port}"
    registered = register_destination(server, "web", f"{url}/.jot/callback", lifetime=LIFETIME)
    (tmp / "web.key").write_text(registered.access_key)
    (tmp / "web.secret").write_text(registered.secret)
    seen: list[dict[str, str]] = []
    with contextlib.ExitStack() as stack:
        app_url = stack.enter_context(serve_in_thread(_upstream(seen)))
        files = ("--access-key-file", str(tmp / "web.key"))
        files += ("--client-secret-file", str(tmp / "web.secret"))
        auth_url = stack.enter_context(
            jot_process(*FORWARD_AUTH, "--issuer", server.url, "--public-url", url, *files)
        )
        stack.enter_context(_caddy(tmp, port, url, auth_url, app_url, cert, key))
        yield Site(server, url, user, seen)


def test_sign_in_and_the_renewed_cookie_reaches_the_browser(page: Page, site: Site) -> None:
    start = f"{site.url}/reports/today?x=1"
    _sign_in(page, site.server, start, site.user)
    assert _shown(page) == {
        "path": "/reports/today",
        "query": "x=1",
        "user": site.user,
        "roles": "viewer",
    }
    # Caddy passes the renewed cookie on with the app's answer.
    renewal_reaches_the_browser(page, f"{site.url}/later", COOKIE, site.user)


def test_bearer_clients_and_return_addresses(page: Page, site: Site) -> None:
    with site.server.api() as api:
        key = api.post("/api/access-keys", json={"identity": site.user}).json()["access_key"]
    with httpx.Client(base_url=site.server.url, timeout=10) as authority:
        made = authority.post(
            "/api/tokens", json={"destination": "web"}, headers={"Authorization": f"Bearer {key}"}
        )
    assert made.status_code == 201, made.text
    with httpx.Client(base_url=site.url, verify=False, timeout=10) as http:
        forged = {
            "Authorization": f"Bearer {made.json()['token']}",
            "X-Jot-User": "mallory",
            "X_Jot_Roles": "admin",
        }
        answer = http.get("/api/x", headers=forged)
        assert answer.status_code == 200
        assert answer.json()["user"] == site.user
        assert "x_jot_roles" not in site.seen[-1]
        assert "authorization" not in site.seen[-1]
        assert "set-cookie" not in answer.headers
        refused = http.get("/api/x", headers={"Authorization": "Bearer not.a.token"})
        assert refused.status_code == 401
        assert "location" not in refused.headers
        browser = http.get("/api/x?a=1")
        assert browser.status_code == 302
        assert browser.headers["location"] == "/.jot/signin?rd=%2Fapi%2Fx%3Fa%3D1"
    for rd in ("https://evil.example/", "//evil.example/"):
        response = page.goto(f"{site.url}/.jot/signin?rd={rd}")
        assert response is not None
        assert response.status == 400
        assert "not on this destination" in page.content()
