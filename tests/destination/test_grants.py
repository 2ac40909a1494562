from __future__ import annotations

import os

import pytest

from jot.destination.errors import UnavailableError
from jot.destination.grants import FileGrants, GrantIndex, parse_grants, resource_chain
from jot.destination.grants_client import AsyncAuthorityGrants, AuthorityGrants

from .authority import ACCESS_KEY, Clock, FakeAuthority


def test_resource_chain():
    assert resource_chain("web") == ("web",)
    assert resource_chain("k8s.default.pods") == ("k8s", "k8s.default", "k8s.default.pods")


def test_index_matching():
    index = GrantIndex(
        [
            {"subject": "user:alice", "role": "view", "resource": "k8s.default"},
            {"subject": "group:ops", "role": "admin", "resource": "k8s"},
            {"subject": "group:dev", "role": "edit", "resource": "k8s.dev"},
        ]
    )
    assert index.roles_for("alice", [], "k8s") == frozenset()
    assert index.roles_for("alice", [], "k8s.default") == {"view"}
    assert index.roles_for("alice", ["ops"], "k8s.default") == {"view", "admin"}
    assert index.roles_for("bob", ["dev"], "k8s.default") == frozenset()
    assert index.roles_for("bob", ["dev"], "k8s.dev.x") == {"edit"}
    # A user named like a group does not get the group's grants.
    assert index.roles_for("ops", [], "k8s") == frozenset()


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"grants": 1},
        {"grants": [{"subject": "alice", "role": "r", "resource": "w"}]},
        {"grants": [{"subject": "user:a", "role": "", "resource": "w"}]},
    ],
)
def test_parse_grants_rejects_bad_input(data):
    with pytest.raises(ValueError):
        parse_grants(data)


def test_file_grants_toml_and_yaml_reload(tmp_path):
    toml = tmp_path / "grants.toml"
    toml.write_text('[[grants]]\nsubject = "group:ops"\nrole = "admin"\nresource = "web"\n')
    clock = Clock()
    source = FileGrants(toml, clock=clock)
    assert source.roles_for("x", ["ops"], "web") == {"admin"}
    toml.write_text('[[grants]]\nsubject = "group:ops"\nrole = "viewer"\nresource = "web"\n')
    os.utime(toml, ns=(1, 1))
    clock.advance(2)
    assert source.roles_for("x", ["ops"], "web") == {"viewer"}
    toml.write_text("[[grants]\nbroken")
    os.utime(toml, ns=(2, 2))
    clock.advance(2)
    assert source.roles_for("x", ["ops"], "web") == {"viewer"}  # Last good kept.

    yml = tmp_path / "grants.yaml"
    yml.write_text("grants:\n  - {subject: 'user:a@x', role: edit, resource: web.docs}\n")
    assert FileGrants(yml).roles_for("a@x", [], "web.docs") == {"edit"}


def test_file_grants_broken_at_start(tmp_path):
    bad = tmp_path / "g.yaml"
    bad.write_text("grants: [unclosed")
    with pytest.raises(ValueError, match=r"g\.yaml"):
        FileGrants(bad)


def test_authority_grants_etag():
    authority = FakeAuthority()
    authority.set_grants([("group:ops", "admin", "web"), ("group:ops", "admin", "db")])
    source = AuthorityGrants(
        authority.issuer, "web", access_key=ACCESS_KEY, http=authority.client()
    )
    assert source.roles_for("a", ["ops"], "web") == {"admin"}
    assert source.refresh(wait=1) is False  # 304
    authority.set_grants([("group:ops", "viewer", "web")])
    assert source.refresh(wait=1) is True
    assert source.roles_for("a", ["ops"], "web") == {"viewer"}
    authority.down = True
    with pytest.raises(UnavailableError):
        source.refresh()
    assert source.roles_for("a", ["ops"], "web") == {"viewer"}


def test_authority_grants_background_thread():
    authority = FakeAuthority()
    authority.set_grants([("group:ops", "admin", "web")])
    source = AuthorityGrants(
        authority.issuer, "web", access_key=ACCESS_KEY, http=authority.client(), wait=0
    )
    source.start()
    try:
        assert source.roles_for("a", ["ops"], "web") == {"admin"}
    finally:
        source.close()


@pytest.mark.anyio
async def test_async_authority_grants():
    authority = FakeAuthority()
    authority.set_grants([("group:ops", "admin", "web")])
    source = AsyncAuthorityGrants(
        authority.issuer,
        "web",
        access_key=ACCESS_KEY,
        http=authority.async_client(),
        background=False,
    )
    assert await source.aroles_for("a", ["ops"], "web") == {"admin"}
    authority.set_grants([("group:ops", "viewer", "web")])
    assert await source.refresh(wait=1)
    assert await source.aroles_for("a", ["ops"], "web") == {"viewer"}
    await source.aclose()


def test_index_answers_from_its_own_grants():
    index = GrantIndex([{"subject": "group:ops", "role": "admin", "resource": "web"}])
    for number in range(5):
        groups = iter(["ops"]) if number % 2 else [f"g{number}"]
        expected = {"admin"} if number % 2 else frozenset()
        assert index.roles_for(f"u{number}", groups, "web") == expected
    assert index.index is index
    assert len(index._answers) == 5  # Remembered per caller.
    # Another index (the grants changed) answers from its own grants, not from the old ones.
    assert GrantIndex([]).roles_for("u1", ["ops"], "web") == frozenset()


def test_a_time_bound_grant_is_dropped_at_its_end_without_a_new_list():
    index = GrantIndex(
        [
            {"subject": "user:bob", "role": "viewer", "resource": "web",
             "expires": "2030-01-01T00:00:00+00:00"},
            {"subject": "user:bob", "role": "editor", "resource": "web.docs"},
        ]
    )  # fmt: skip
    end = 1893456000.0  # 2030-01-01T00:00:00Z
    assert index.roles_for("bob", [], "web.docs", now=end - 1) == {"viewer", "editor"}
    assert index.roles_for("bob", [], "web.docs", now=end) == {"editor"}
    assert index.expiry_of("bob", [], now=end - 1) == end
    assert index.expiry_of("bob", [], now=end) is None


def test_an_answer_is_kept_per_caller_until_any_of_its_grants_lapses():
    """roles, roles below and the next lapse are remembered together, until the first of the
    caller's grants ends, wherever it is (here one on another destination): each part is
    then decided again, as without the memo."""
    index = GrantIndex(
        [
            {"subject": "group:ops", "role": "edit", "resource": "k8s.dev",
             "expires": "2030-01-01T00:00:00+00:00"},
            {"subject": "user:bob", "role": "view", "resource": "k8s"},
            {"subject": "user:bob", "role": "oncall", "resource": "other",
             "expires": "2029-01-01T00:00:00+00:00"},
        ]
    )  # fmt: skip
    first, end = 1861920000.0, 1893456000.0  # 2029-01-01, 2030-01-01 (UTC)
    answer = index.answer("bob", ["ops"], "k8s", now=first - 1)
    assert answer.roles == {"view"}
    assert answer.below == {"k8s.dev": {"edit"}}
    assert answer.until == first == index.expiry_of("bob", ["ops"], now=first - 1)
    assert index.answer("bob", iter(["ops"]), "k8s", now=first - 1) is answer  # Remembered.
    later = index.answer("bob", ["ops"], "k8s", now=first)
    assert later is not answer
    assert (later.roles, later.below, later.until) == ({"view"}, {"k8s.dev": {"edit"}}, end)
    gone = index.answer("bob", ["ops"], "k8s", now=end)
    assert (gone.roles, gone.below, gone.until) == ({"view"}, {}, None)
    # roles_below hands out its own dict: changing it changes no later answer.
    index.roles_below("carol", ["ops"], "k8s", now=first)["k8s.x"] = frozenset({"admin"})
    assert index.roles_below("carol", ["ops"], "k8s", now=first) == {"k8s.dev": {"edit"}}


def test_a_file_grant_with_an_end_lapses_at_it(tmp_path):
    """``expires`` in a grants file makes the grant time-bound (it used to be dropped: the
    grant held for good); without a zone, or not a time, the file is refused."""
    from datetime import UTC, datetime

    end = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    toml = tmp_path / "grants.toml"
    toml.write_text(
        '[[grants]]\nsubject = "user:bob"\nrole = "oncall"\nresource = "web"\n'
        "expires = 2030-01-01T00:00:00Z\n"
    )
    yml = tmp_path / "grants.yaml"
    yml.write_text(
        "grants:\n- {subject: 'user:bob', role: oncall, resource: web,\n"
        "   expires: 2030-01-01T01:00:00+01:00}\n"
        "- {subject: 'user:bob', role: viewer, resource: web,\n"
        "   expires: '2030-01-01T00:00:00+00:00'}\n"
    )
    for path, roles in ((toml, {"oncall"}), (yml, {"oncall", "viewer"})):
        source = FileGrants(path)
        assert source.roles_for("bob", [], "web", now=end - 1) == roles
        assert source.roles_for("bob", [], "web", now=end) == frozenset()
    for bad in ("2030-01-01T00:00:00", "2030-01-01", "soon", "3"):
        with pytest.raises(ValueError, match="grant #1: expires must be a time with its zone"):
            parse_grants(
                {"grants": [{"subject": "user:a", "role": "r", "resource": "w", "expires": bad}]}
            )
    naive = tmp_path / "naive.toml"
    naive.write_text(
        '[[grants]]\nsubject = "user:a"\nrole = "r"\nresource = "w"\n'
        "expires = 2030-01-01T00:00:00\n"
    )
    with pytest.raises(ValueError, match="expires must be a time with its zone"):
        FileGrants(naive)
