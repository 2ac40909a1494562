"""The one role rule of jot.api.roles, as the authority and the destinations apply it."""

from __future__ import annotations

from jot.api.roles import Held, granting_groups, resource_chain, roles_on, roles_within

GRANTS = {
    "user:alice": [Held("web", "viewer"), Held("k8s.dev", "edit")],
    "group:ops": [Held("web.admin", "admin")],
    "group:db": [Held("db", "reader")],
}


def test_resource_chain() -> None:
    assert resource_chain("web") == ("web",)
    assert resource_chain("k8s.a.b") == ("k8s", "k8s.a", "k8s.a.b")


def test_a_grant_applies_to_its_resource_and_below_never_above() -> None:
    assert roles_on("alice", [], "web", GRANTS) == {"viewer"}
    assert roles_on("alice", [], "web.x", GRANTS) == {"viewer"}
    assert roles_on("alice", ["ops"], "web.admin.users", GRANTS) == {"viewer", "admin"}
    assert roles_on("alice", ["ops"], "web", GRANTS) == {"viewer"}
    assert roles_on("alice", [], "k8s", GRANTS) == frozenset()
    assert roles_on("alice", [], "webx", GRANTS) == frozenset()


def test_users_and_groups_are_separate_subjects() -> None:
    assert roles_on("ops", [], "web.admin", GRANTS) == frozenset()  # user:ops holds nothing
    assert roles_on("bob", ["alice"], "web", GRANTS) == frozenset()


def test_a_token_needs_some_grant_within_the_destination() -> None:
    assert roles_within("alice", [], "k8s", GRANTS) == {"edit"}
    assert roles_within("bob", ["ops"], "web", GRANTS) == {"admin"}
    assert roles_within("bob", ["ops"], "we", GRANTS) == frozenset()
    assert roles_within("bob", [], "web", GRANTS) == frozenset()


def test_narrowing_keeps_the_groups_granted_within_the_destination_in_order() -> None:
    assert granting_groups(["x", "ops", "db"], "web", GRANTS) == ("ops",)
    assert granting_groups(["db", "ops"], "db", GRANTS) == ("db",)
    assert granting_groups([], "web", GRANTS) == ()
