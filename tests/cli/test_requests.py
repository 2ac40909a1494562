"""``jot requests`` through the real client against an in-process authority."""

from __future__ import annotations

import json
from typing import Any

from jot.cli import _credentials as creds
from tests.cli.conftest import SERVER


def _as(key: str, name: str) -> None:
    creds.remember(SERVER, {"access_key": key, "name": name})


def test_ask_answer_and_show(cli: Any) -> None:
    cli("users", "add", "alice@example.com")
    cli("users", "add", "bob@example.com")
    cli("destinations", "add", "web")
    cli("grants", "add", "user:bob@example.com", "approver", "jot.web")
    alice = cli("access-keys", "add", "alice@example.com").strip()
    bob = cli("access-keys", "add", "bob@example.com").strip()

    _as(alice, "alice@example.com")
    out = cli("requests", "add", "viewer", "web", "--for", "2h", "--reason", "incident 42")
    assert out.startswith("asked for viewer on web for 2h (request ")
    request_id = out.split("(request ")[1].split(")")[0]
    listed = cli("requests", "list").splitlines()
    assert listed[0].split("\t") == [
        "ID", "REQUESTER", "ROLE", "RESOURCE", "FOR", "STATE", "CREATED", "REASON",
    ]  # fmt: skip
    assert listed[1].split("\t")[:6] == [
        request_id, "alice@example.com", "viewer", "web", "2h", "pending",
    ]  # fmt: skip
    assert cli("requests", "approve", request_id, code=1) == (
        "Error: you cannot answer your own request; another approver must\n"
    )

    _as(bob, "bob@example.com")
    out = cli("requests", "approve", request_id[:6], "--note", "go ahead")
    assert out.startswith("approved: alice@example.com holds viewer on web until ")
    shown = cli("requests", "show", request_id).splitlines()
    assert "state:         approved" in shown
    assert "decided by:    bob@example.com" in shown
    assert "note:          go ahead" in shown
    again = cli("requests", "deny", request_id, code=1)
    assert again == f"Error: request {request_id} was approved by bob@example.com already\n"

    _as(alice, "alice@example.com")
    assert cli("token", "--for", "web").count(".") == 2


def test_mistakes_are_one_line(cli: Any) -> None:
    cli("destinations", "add", "web")
    assert cli("requests", "add", "viewer", "web", "--for", "2h", code=2).endswith(
        "Error: Missing option '--reason'.\n"
    )
    out = cli("requests", "add", "viewer", "web", "--for", "10s", "--reason", "x", code=2)
    assert "10s is not between 60" in out
    out = cli("requests", "add", "viewer", "web", "--for", "1h", "--reason", "a\x1bb", code=1)
    assert out == "Error: reason must be one line of text\n"
    out = cli("requests", "add", "viewer", "nope", "--for", "1h", "--reason", "x", code=1)
    assert out == "Error: no destination named 'nope'; create it first\n"
    assert cli("requests", "show", "zzzzzz", code=1) == (
        "Error: no access request with an id starting with 'zzzzzz'\n"
    )
    made = json.loads(
        cli("requests", "add", "viewer", "web", "--for", "1h", "--reason", "x", "--json")
    )
    assert cli("requests", "cancel", made["id"]) == f"cancelled request {made['id']}\n"
    assert (
        json.loads(cli("requests", "list", "--state", "cancelled", "--json"))[0]["id"]
        == (made["id"])
    )
