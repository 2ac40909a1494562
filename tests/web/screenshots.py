"""Screenshots of the console's main pages for docs/console.md (``scripts/screenshots``).

Starts an authority on a temporary data directory, fills it with a small example, and
photographs the pages in Debian's Chromium, as a person sees them.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.oidc import oidc_harness
from tests.web.conftest import CHROMIUM, PASSWORD, sign_in

OUT = Path(__file__).resolve().parents[2] / "docs" / "console"


def _example(server: oidc_harness.Running) -> None:
    with server.api() as api:
        for name in ("ada@example.com", "alice@example.com", "bob@example.com"):
            api.post("/api/users", json={"name": name, "kind": "user", "password": PASSWORD})
        api.post("/api/users", json={"name": "ci-deployer", "kind": "machine"})
        for group, members in (
            ("dev", ["alice@example.com", "bob@example.com"]),
            ("ops", ["ada@example.com"]),
        ):
            api.post("/api/groups", json={"name": group})
            for member in members:
                api.post(f"/api/groups/{group}/members", json={"name": member})
        for dest, kind in (("web", "http"), ("db", "http"), ("prod-cluster", "kubernetes")):
            body = {"name": dest, "kind": kind}
            if kind == "kubernetes":
                body["cluster_server"] = "https://k8s-proxy.example.com"
            api.post("/api/destinations", json=body)
        for subject, role, resource in (
            ("user:ada@example.com", "admin", "jot"),
            ("group:dev", "viewer", "web"),
            ("user:alice@example.com", "editor", "web.blog"),
            ("group:dev", "reader", "db"),
            ("group:ops", "cluster-admin", "prod-cluster"),
            ("user:ci-deployer", "edit", "prod-cluster.apps"),
            ("user:alice@example.com", "view", "prod-cluster.staging"),
            ("user:bob@example.com", "approver", "jot.web"),
        ):
            api.post("/api/grants", json={"subject": subject, "role": role, "resource": resource})
        until = {"subject": "user:bob@example.com", "role": "editor", "resource": "web.blog"}
        api.post("/api/grants", json={**until, "duration": 8 * 3600})  # Time left, on Grants.


def _shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(OUT / f"{name}.png"))
    print(f"docs/console/{name}.png")


def _my_access_below(page: Page) -> None:
    """A key made on My access (shown once), and the person's recent activity."""
    page.get_by_label("Name", exact=True).fill("laptop")
    page.get_by_label("Your password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create key").click()
    page.wait_for_selector("#new-key-card")
    page.locator("#new-key-card").scroll_into_view_if_needed()
    _shoot(page, "my-access-key")
    page.locator("#activity").scroll_into_view_if_needed()
    _shoot(page, "my-access-activity")


def _ask(page: Page, url: str) -> None:
    page.goto(f"{url}/requests")
    page.get_by_label("Role").fill("editor")
    page.get_by_label("Resource").fill("web.shop")
    page.get_by_label("For how long").select_option(label="4 hours")
    page.get_by_label("Why").fill("INC-7: fix the prices before the sale")
    page.get_by_role("button", name="Ask").click()
    page.wait_for_selector("#done")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data, oidc_harness.authority(Path(data) / "d") as server:
        _example(server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{server.url}/sign-in")
            _shoot(page, "sign-in")
            sign_in(page, server, "alice@example.com")
            page.get_by_role("button", name="Get token for web").click()
            _shoot(page, "my-access")
            page.get_by_role("link", name="Open in the debugger").click()
            page.wait_for_selector("#verdict.ok")
            _shoot(page, "debugger")
            token = page.locator("#token").input_value()
            head, body, sig = token.split(".")
            page.locator("#token").fill(
                f"{head}.{body}.{sig[:20]}{'A' if sig[20] != 'A' else 'B'}{sig[21:]}"
            )
            page.wait_for_selector("#verdict.bad")
            _shoot(page, "debugger-tampered")
            page.goto(f"{server.url}/")
            _my_access_below(page)
            _ask(page, server.url)
            page.get_by_role("button", name="Sign out").click()
            sign_in(page, server, "bob@example.com")
            page.goto(f"{server.url}/requests")
            _shoot(page, "requests")
            page.get_by_role("button", name="Sign out").click()
            sign_in(page, server, "ada@example.com")
            for path, name in (
                ("/admin/users", "admin-users"),
                ("/admin/grants", "admin-grants"),
                ("/admin/destinations/prod-cluster", "admin-destination"),
                (
                    "/admin/explain?subject=user:alice@example.com&resource=web.blog",
                    "admin-explain",
                ),
                ("/admin/audit", "admin-audit"),
            ):
                page.goto(f"{server.url}{path}")
                _shoot(page, name)
            browser.close()


if __name__ == "__main__":
    sys.exit(main())
