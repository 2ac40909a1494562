"""A relying party that no one here wrote signs in through jot: Debian's Apache with
mod_auth_openidc (``scripts/install-apache``) protects a page, and Chromium opens it.

mod_auth_openidc of Debian 12 verifies with cjose, which has no EdDSA: the authority signs
with ES256, as docs/browser.md tells operators of such apps.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.destination.servers import free_port, serve_in_thread, stop, wait_for_port
from tests.oidc import oidc_harness

from .conftest import PASSWORD, new_user

pytestmark = pytest.mark.e2e

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
CONFIG = """
ServerRoot {root}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn auth_openidc:info
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
{user}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so

OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID shop
OIDCClientSecret {secret}
OIDCRedirectURI http://127.0.0.1:{port}/secure/callback
OIDCCryptoPassphrase {passphrase}
OIDCPKCEMethod S256
OIDCScope "openid profile groups"
OIDCRemoteUserClaim name
OIDCPassClaimsAs headers

<Location /secure>
    AuthType openid-connect
    Require valid-user
    ProxyPass {upstream}/secure
</Location>
"""


def _upstream() -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return JSONResponse(
            {
                "path": request.url.path,
                "name": headers.get("oidc_claim_name"),
                "groups": headers.get("oidc_claim_groups"),
            }
        )

    return Starlette(routes=[Route("/{path:path}", echo)])


@contextlib.contextmanager
def _apache(root: Path, port: int, **values: str) -> Iterator[None]:
    if not (Path(APACHE).exists() and Path(MODULES, "mod_auth_openidc.so").exists()):
        pytest.fail("Apache with mod_auth_openidc is not installed: run scripts/install-apache")
    user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
    config = CONFIG.format(root=root, port=port, modules=MODULES, user=user, **values)
    (root / "httpd.conf").write_text(config)
    process = subprocess.Popen(
        [APACHE, "-f", str(root / "httpd.conf"), "-D", "FOREGROUND"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=10)
    except RuntimeError:
        stop(process)
        log = root / "error.log"
        raise RuntimeError(log.read_text()[-2000:] if log.exists() else "no log") from None
    try:
        yield
    finally:
        stop(process)


@pytest.fixture(scope="module")
def apache_site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, oidc_harness.Running]]:
    tmp = tmp_path_factory.mktemp("apache")
    with oidc_harness.authority(tmp / "data", signing_alg="ES256") as server:
        port = free_port()
        with server.api() as api:
            api.post("/api/groups", json={"name": "shoppers"})
            made = api.post(
                "/api/destinations",
                json={
                    "name": "shop",
                    "oidc": {"redirect_uris": [f"http://127.0.0.1:{port}/secure/callback"]},
                },
            )
            assert made.status_code == 201, made.text
            api.post(
                "/api/grants",
                json={"subject": "group:shoppers", "role": "buyer", "resource": "shop"},
            )
        (tmp / "root").mkdir()
        with (
            serve_in_thread(_upstream()) as upstream,
            _apache(
                tmp / "root",
                port,
                issuer=server.url,
                secret=made.json()["oidc"]["client_secret"],
                passphrase=secrets.token_urlsafe(24),
                upstream=upstream,
            ),
        ):
            yield f"http://127.0.0.1:{port}", server


def test_mod_auth_openidc_signs_in_through_jot(chromium, apache_site) -> None:
    site, server = apache_site
    user = new_user(server)
    with server.api() as api:
        api.post("/api/groups/shoppers/members", json={"name": user})
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    page: Page = context.new_page()
    try:
        page.goto(f"{site}/secure/page")
        assert page.url.startswith(f"{server.url}/sign-in"), page.url
        form = page.locator("form", has=page.get_by_label("Password"))
        form.get_by_label("Name").fill(user)
        form.get_by_label("Password").fill(PASSWORD)
        form.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{site}/secure/page")
        assert '"name":"' + user + '"' in page.locator("body").inner_text().replace(" ", "")
        assert "shoppers" in page.locator("body").inner_text()
    finally:
        context.close()


def test_a_person_without_a_grant_gets_a_page_not_a_token(chromium, apache_site) -> None:
    site, server = apache_site
    user = new_user(server)
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    page: Page = context.new_page()
    try:
        page.goto(f"{site}/secure/page")
        form = page.locator("form", has=page.get_by_label("Password"))
        form.get_by_label("Name").fill(user)
        form.get_by_label("Password").fill(PASSWORD)
        form.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        assert page.url.startswith(server.url)
        assert f"{user} has no access to shop" in page.locator("body").inner_text()
    finally:
        context.close()
