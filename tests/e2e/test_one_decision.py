"""End to end (issue 19 item 6): against a real `jot server`, `jot grants check` (the
authority's decision, as the console shows it) and a destination's decision (from the grants
it syncs over HTTP, as every connector does) agree — users and groups, a resource hierarchy
with namespaces, time-bound grants (one of which lapses here) and a revoked subject."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from jot.destination.grants_client import AuthorityGrants

from .integration_support import realm

pytestmark = pytest.mark.e2e

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
GROUPS = {ALICE: ["ops"], BOB: ["ops"], CAROL: []}
RESOURCES = ("web", "web.reports", "web.admin-panel", "db", "k8s", "k8s.dev", "k8s.prod")


def test_grants_check_and_a_destination_agree(tmp_path) -> None:
    with realm(tmp_path) as world:
        admin = lambda *args: world.jot("admin", *args)  # noqa: E731
        admin("grants", "add", "user:web-connector", "connector", "jot.db")
        admin("grants", "add", f"user:{CAROL}", "viewer", "web.reports", "--for", "1h")
        admin("grants", "add", f"user:{CAROL}", "edit", "k8s.dev")
        admin("grants", "add", "group:ops", "oncall", "web", "--for", "3s")
        admin("grants", "add", f"user:{BOB}", "edit", "k8s.prod", "--for", "1h")
        admin("groups", "add-member", "ops", BOB)
        admin("revoke", f"user:{ALICE}")
        time.sleep(3.2)  # ops' oncall grant lapses (before the sweep deletes it, or after).
        key = world.machine_keys["web-connector"]
        headers = {"Authorization": f"Bearer {world.server.admin_key()}"}
        sources = {
            name: AuthorityGrants(world.url, name, access_key=key, background=False)
            for name in ("web", "db", "k8s")
        }
        try:
            for source in sources.values():
                source.refresh()
            with httpx.Client(base_url=world.url, headers=headers, timeout=10) as api:
                for person in (ALICE, BOB, CAROL):
                    for resource in RESOURCES:
                        found = api.get(
                            "/api/explain",
                            params={"subject": f"user:{person}", "resource": resource},
                        )
                        assert found.status_code == 200, found.text
                        index = sources[resource.partition(".")[0]].index
                        assert index is not None
                        revoked = index.revoked(world.ids[person], "no-jti")
                        held = index.roles_for(person, GROUPS[person], resource)
                        expected = set() if revoked else set(held)
                        assert set(found.json()["roles"]) == expected, (person, resource)
            # The CLI says the same as the API it calls (one spot check per kind of grant).
            for person, resource, roles in (
                (CAROL, "web.reports", ["viewer"]),
                (CAROL, "k8s.dev", ["edit"]),
                (BOB, "k8s.prod", ["admin", "edit", "view"]),
                (BOB, "web", ["admin"]),  # Not ops' oncall: it lapsed.
                (ALICE, "web", []),
            ):
                shown = admin("grants", "check", f"user:{person}", resource, "--json").stdout
                assert sorted(json.loads(shown)["roles"]) == roles, (person, resource)
            refused = json.loads(admin("grants", "check", f"user:{ALICE}", "web", "--json").stdout)
            assert refused["token"] is False
            assert "revoked" in refused["reason"]
        finally:
            for source in sources.values():
                source.close()
