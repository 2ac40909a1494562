"""Plain, accessible pages and forms only this site can post (issue 17): axe-core finds no
serious or critical violation on the main pages; a forged cross-site post is refused."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from jot.authority.models import Identity
from tests.oidc.oidc_harness import Running

from .conftest import new_user, sign_in

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def _violations(page: Page) -> list[str]:
    # Run through the DevTools protocol, which the page's CSP does not govern: axe-core is
    # a test tool, never served by jot.
    page.evaluate(AXE.read_text())
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join(', ')})`)"
    )
    return list(found)


def test_the_main_pages_have_no_serious_accessibility_violation(
    page: Page, server: Running
) -> None:
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run scripts/install-axe (make test does)")
    admin = new_user(server, admin=True)
    page.goto(f"{server.url}/sign-in")
    problems = {"/sign-in": _violations(page)}
    sign_in(page, server, admin)
    for path in (
        "/",
        "/debug",
        "/requests",
        "/admin/users",
        "/admin/groups",
        "/admin/destinations",
        "/admin/grants",
        "/admin/explain?subject=user:admin&resource=jot",
        "/admin/access-keys",
        "/admin/signing-keys",
        "/admin/revocations",
        f"/admin/users/{admin}",
        "/admin/destinations/jot",
        "/admin/providers",
        "/admin/audit",
    ):
        page.goto(f"{server.url}{path}")
        problems[path] = _violations(page)
    assert not {path: found for path, found in problems.items() if found}


@contextlib.contextmanager
def _other_site(html: str) -> Iterator[str]:
    """A page on another site (``localhost`` is another site than ``127.0.0.1``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_forged_cross_site_post_is_refused(page: Page, server: Running) -> None:
    admin = new_user(server, admin=True)
    sign_in(page, server, admin)
    expect(page.locator(".who")).to_have_text(admin)
    victim = f"evil-{secrets.token_hex(3)}"
    forged = (
        f"<form method='post' action='{server.url}/admin/users'>"
        f"<input name='name' value='{victim}'><input name='kind' value='machine'>"
        "<input name='csrf_token' value='guessed'></form>"
        "<script>document.forms[0].submit()</script>"
    )
    with _other_site(forged) as evil:
        page.goto(evil)
        page.wait_for_url(f"{server.url}/**")
    # Nothing was made, and the admin is still signed in here.
    with server.authority.db.transaction(write=False) as db:
        assert db.scalars(select(Identity).where(Identity.name == victim)).first() is None
    page.goto(f"{server.url}/admin/users")
    expect(page.locator(".who")).to_have_text(admin)
