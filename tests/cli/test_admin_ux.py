"""Admin commands as people use them: ids as tables show them (or a unique start of them),
grants removed by what they grant, `show` commands, removals that ask first, and `audit
--follow`."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest

import jot.cli.audit as audit_cli
from jot.cli import _credentials as creds
from jot.cli._ids import unique
from tests.cli.conftest import SERVER


def _grant(cli: Any, subject: str, role: str, resource: str) -> str:
    return json.loads(cli("grants", "add", subject, role, resource, "--json"))["id"]


def test_grants_are_removed_by_a_unique_start_of_their_id(cli: Any) -> None:
    cli("destinations", "add", "web")
    ids = [_grant(cli, "user:admin", f"r{n}", "web") for n in range(20)]
    victim = ids[0]
    # With 20 random ids, some share their first character: the shortest unique start.
    length = next(n for n in range(4, 33) if sum(i.startswith(victim[:n]) for i in ids) == 1)
    assert cli("grants", "remove", victim[:length]) == f"removed grant {victim}\n"
    left = {g["id"] for g in json.loads(cli("grants", "list", "--json"))}
    assert victim not in left
    assert set(ids[1:]) <= left


def test_a_start_that_fits_none_or_is_too_short_is_one_line(cli: Any) -> None:
    cli("destinations", "add", "web")
    grant = _grant(cli, "user:admin", "viewer", "web")
    out = cli("grants", "remove", "zzzz", code=1)
    assert out == "Error: no grant with an id starting with 'zzzz'\n"
    out = cli("grants", "remove", grant[:3], code=1)
    assert out == (
        f"Error: no grant with the id '{grant[:3]}' (give the id, or at least its first 4 "
        "characters)\n"
    )
    assert grant in cli("grants", "list")


def test_a_start_that_fits_several_names_them() -> None:
    items = ["abcd1111", "abcd2222", "abce3333"]
    with pytest.raises(click.ClickException) as raised:
        unique("abcd", items, str, "grant")
    assert raised.value.message == "'abcd' starts 2 grant ids (abcd1111, abcd2222); give more of it"
    assert unique("abce", items, str, "grant") == "abce3333"
    assert unique("ab", ["ab", "abc"], str, "grant") == "ab"  # A whole id, however short.


def test_grants_are_removed_by_subject_role_and_resource(cli: Any) -> None:
    cli("destinations", "add", "web")
    cli("users", "add", "Alice@Example.com")
    kept = _grant(cli, "user:alice@example.com", "editor", "web")
    gone = _grant(cli, "user:alice@example.com", "viewer", "web")
    out = cli("grants", "remove", "user:ALICE@example.com", "viewer", "web")
    assert out == f"removed grant {gone}\n"
    left = {g["id"] for g in json.loads(cli("grants", "list", "--destination", "web", "--json"))}
    assert left == {kept}
    out = cli("grants", "remove", "user:alice@example.com", "viewer", "web", code=1)
    assert out == "Error: user:alice@example.com has no grant of viewer on web\n"
    out = cli("grants", "remove", "alice", "viewer", "web", code=1)
    assert out.startswith("Error: subject must be user:NAME or group:NAME")
    assert "give a grant's ID" in cli("grants", "remove", "a", "b", code=2)


def test_access_keys_are_revoked_by_a_unique_start_of_their_id(cli: Any) -> None:
    cli("users", "add", "svc", "--machine")
    cli("access-keys", "add", "svc")
    (key,) = json.loads(cli("access-keys", "list", "--identity", "svc", "--json"))
    assert cli("access-keys", "remove", key["id"][:8]) == f"revoked access key {key['id']}\n"
    (key,) = json.loads(cli("access-keys", "list", "--identity", "svc", "--json"))
    assert key["revoked"] is not None
    assert cli("access-keys", "remove", "nope", code=1) == (
        "Error: no access key with an id starting with 'nope'\n"
    )


def test_users_show_and_destinations_show(cli: Any) -> None:
    cli("destinations", "add", "web", "--lifetime", "2m")
    cli("users", "add", "bob@example.com")
    assert cli("users", "show", "bob@example.com").splitlines()[-1] == "no grants"
    cli("groups", "add", "ops")
    cli("groups", "add-member", "ops", "bob@example.com")
    grant = _grant(cli, "user:bob@example.com", "viewer", "web")
    shown = cli("users", "show", "BOB@example.com").splitlines()
    assert shown[0] == "name:     bob@example.com"
    assert "groups:   ops" in shown
    assert shown[-2].split("\t")[0] == "ID"  # The grants, as a table.
    assert shown[-1].split("\t")[:4] == [grant, "user:bob@example.com", "viewer", "web"]
    as_json = json.loads(cli("users", "show", "bob@example.com", "--json"))
    assert as_json["groups"] == ["ops"]
    assert [g["id"] for g in as_json["grants"]] == [grant]
    shown = cli("destinations", "show", "web").splitlines()
    assert "lifetime: 120 s" in shown
    assert shown[-1].split("\t")[0] == grant
    assert json.loads(cli("destinations", "show", "web", "--json"))["lifetime"] == 120
    assert cli("users", "show", "nobody", code=1) == "Error: no identity named 'nobody'\n"


@pytest.mark.parametrize(
    ("kind", "name", "add"),
    [
        ("users", "bob", ["users", "add", "bob"]),
        ("groups", "ops", ["groups", "add", "ops"]),
        ("destinations", "web", ["destinations", "add", "web"]),
        ("providers", "corp", ["providers", "add", "corp", "--issuer", "https://idp.example",
                               "--client-id", "jot"]),
    ],
)  # fmt: skip
def test_removals_refuse_without_a_terminal_unless_yes(
    cli: Any, kind: str, name: str, add: list[str]
) -> None:
    cli(*add)
    out = cli(kind, "remove", name, code=1)
    assert out.startswith(f"Error: will not remove {'' if kind == 'users' else 'the '}")
    assert out.endswith("without confirmation: pass --yes (stdin is not a terminal)\n")
    assert name in cli(kind, "list")  # Nothing was removed.
    cli(kind, "remove", name, "--yes")
    assert name not in cli(kind, "list")
    # A name that does not exist fails as itself, before any question.
    assert cli(kind, "remove", "ghost", code=1).startswith("Error: no ")


def test_signing_keys_rotate_refuses_without_a_terminal_unless_yes(cli: Any) -> None:
    out = cli("signing-keys", "rotate", code=1)
    assert out == (
        "Error: will not revoke the current signing key now without confirmation: "
        "pass --yes (stdin is not a terminal)\n"
    )


def test_audit_follow_prints_new_events_as_they_come(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("groups", "add", "first")
    polls: list[int] = []

    def sleep(seconds: float) -> None:
        polls.append(int(seconds))
        if len(polls) == 1:
            cli("groups", "add", "second")
        elif len(polls) == 3:
            raise KeyboardInterrupt  # Ctrl-C.

    monkeypatch.setattr(audit_cli.time, "sleep", sleep)
    out = cli("audit", "--follow", "--kind", "group.", "--interval", "1s").splitlines()
    assert polls == [1, 1, 1]
    assert out[0].split("\t") == ["TIME", "KIND", "ACTOR", "TARGET", "CLIENT", "DETAIL"]
    assert [line.split("\t")[1:4] for line in out[1:]] == [
        ["group.created", "admin", "first"],
        ["group.created", "admin", "second"],  # Once, although two polls saw it.
    ]
    assert "takes no --until" in cli("audit", "--follow", "--until", "1h", code=2)


def test_audit_follow_json_is_one_object_a_line(cli: Any, monkeypatch: pytest.MonkeyPatch):
    cli("groups", "add", "first")

    def sleep(seconds: float) -> None:
        if cli("groups", "list").count("\n") > 2:
            raise KeyboardInterrupt
        cli("groups", "add", "second")

    monkeypatch.setattr(audit_cli.time, "sleep", sleep)
    out = cli("audit", "--follow", "--json", "--kind", "group.").splitlines()
    assert [json.loads(line)["target"] for line in out] == ["first", "second"]


def test_login_and_logout_take_server_as_everywhere(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = creds.resolve(SERVER)[1]
    said = cli("login", "--server", SERVER, "--key-stdin", input=key + "\n")
    assert said == f"Logged in to {SERVER} as admin\n"
    monkeypatch.setenv("JOT_SERVER", SERVER)
    assert cli("login", "--key-stdin", input=key + "\n") == f"Logged in to {SERVER} as admin\n"
    out = cli("login", SERVER, "--server", "http://other.test", "--key-stdin", code=2)
    assert "give the server once: as SERVER or with --server" in out
