"""``jot revoke``: a user, a token, the list, and lifting an entry."""

from __future__ import annotations

import json
from typing import Any


def test_revoke_list_lift(cli: Any) -> None:
    cli("users", "add", "bob", "--machine")
    cli("access-keys", "add", "bob")
    out = cli("revoke", "user:bob", "--reason", "laptop stolen")
    assert out.startswith("revoked user:bob at every destination until ")
    assert out.rstrip().endswith("; 1 access key revoked")
    assert cli("revoke", "token", "abc-123").startswith("revoked abc-123 at every destination")
    listed = json.loads(cli("revoke", "list", "--json"))
    assert [(r["target"], r["reason"]) for r in listed] == [
        ("abc-123", None), ("user:bob", "laptop stolen"),
    ]  # fmt: skip
    table = cli("revoke", "list").splitlines()
    assert table[0].split("\t") == ["ID", "SUBJECT", "UNTIL", "ACTOR", "REASON"]
    assert cli("revoke", "lift", listed[0]["id"][:8]) == f"lifted revocation {listed[0]['id']}\n"
    assert [r["target"] for r in json.loads(cli("revoke", "list", "--json"))] == ["user:bob"]


def test_mistakes(cli: Any) -> None:
    usage = "give user:NAME, token JTI, list, or lift ID"
    assert usage in cli("revoke", "bob", code=2)
    assert usage in cli("revoke", "token", code=2)
    assert usage in cli("revoke", "group:ops", code=2)
    assert cli("revoke", "user:nobody", code=1) == "Error: no identity named 'nobody'\n"
    assert "no revocation" in cli("revoke", "lift", "zzzzzzzz", code=1)
