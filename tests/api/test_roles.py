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


def test_a_time_bound_grant_applies_until_its_end_not_at_it() -> None:
    from jot.api.roles import expiry_of, roles_below

    grants = {
        "user:bob": [Held("web", "viewer", 1000.0), Held("web", "editor")],
        "group:ops": [Held("k8s.dev", "edit", 2000.0), Held("web", "admin", 500.0)],
    }
    assert roles_on("bob", ["ops"], "web", grants, now=499) == {"viewer", "editor", "admin"}
    assert roles_on("bob", ["ops"], "web", grants, now=500) == {"viewer", "editor"}
    assert roles_on("bob", ["ops"], "web", grants, now=1000) == {"editor"}
    assert roles_within("bob", ["ops"], "k8s", grants, now=1999) == {"edit"}
    assert roles_within("bob", ["ops"], "k8s", grants, now=2000) == frozenset()
    assert roles_below("bob", ["ops"], "k8s", grants, now=10) == {"k8s.dev": {"edit"}}
    assert granting_groups(["ops"], "k8s", grants, now=2000) == ()
    # The next lapse among what applies now: the bound of any cache of these answers.
    assert expiry_of("bob", ["ops"], grants, now=0) == 500.0
    assert expiry_of("bob", ["ops"], grants, now=500) == 1000.0
    assert expiry_of("bob", [], grants, now=1000) is None


def test_applies_is_the_rule_decide_reads() -> None:
    """What an explanation marks as applying is exactly what gives the decision's roles."""
    from jot.api.roles import applies, decide

    grants = {"user:bob": [Held("web", "a", 100.0), Held("web.x", "b"), Held("webx", "c")]}
    for resource in ("web", "web.x", "web.x.y", "web.y", "webx"):
        for now in (99.0, 100.0):
            held = [h for h in grants["user:bob"] if applies(h, resource, now)]
            assert {h.role for h in held} == decide("bob", [], resource, grants, now=now).roles
    assert applies(Held("web", "a", 100.0), "web.x", 99.9)
    assert not applies(Held("web", "a", 100.0), "web.x", 100.0)
    assert not applies(Held("web.x", "b"), "web", 0.0)


def test_the_namespace_and_its_group_are_named_once() -> None:
    """What a Kubernetes destination sends and what `jot destinations rbac` binds."""
    from jot.api.roles import namespace_of, role_group

    assert [namespace_of(r) for r in ("k8s", "k8s.dev", "k8s.dev.x", "k8s.")] == [
        None,
        "dev",
        None,
        None,
    ]
    assert role_group("jot:role:", "edit") == "jot:role:edit"
    assert role_group("jot:role:", "edit", "dev") == "jot:role:edit:dev"
