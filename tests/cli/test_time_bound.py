"""``jot grants add --for/--until`` and grants listed with their remaining time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any


def test_grants_for_a_while(cli: Any) -> None:
    cli("destinations", "add", "web")
    cli("users", "add", "bob", "--machine")
    out = cli("grants", "add", "user:bob", "viewer", "web", "--for", "2h")
    assert out.startswith("granted viewer on web to user:bob (id ")
    assert out.rstrip().endswith("(2h left)")
    end = datetime.now(UTC) + timedelta(days=1)
    out = cli("grants", "add", "user:bob", "editor", "web", "--until", end.isoformat())
    assert "until" in out
    table = cli("grants", "list", "--destination", "web").splitlines()
    assert table[0].split("\t") == ["ID", "SUBJECT", "ROLE", "RESOURCE", "CREATED", "EXPIRES"]
    assert any(line.endswith("left)") for line in table[1:])
    listed = json.loads(cli("grants", "list", "--json"))
    assert sorted(g["expires"] is None for g in listed) == [False, False, True]  # admin's


def test_mistakes(cli: Any) -> None:
    cli("destinations", "add", "web")
    cli("users", "add", "bob", "--machine")
    both = cli("grants", "add", "user:bob", "r", "web", "--for", "1h", "--until", "2030-01-01",
               code=2)  # fmt: skip
    assert "give --for or --until, not both" in both
    assert "use an ISO time" in cli("grants", "add", "user:bob", "r", "web", "--until", "soon",
                                    code=2)  # fmt: skip
    assert cli("grants", "add", "user:bob", "r", "web", "--until", "2020-01-01T00:00Z",
               code=1) == "Error: expires is in the past\n"  # fmt: skip
    assert "is not a duration" in cli("grants", "add", "user:bob", "r", "web", "--for", "x",
                                      code=2)  # fmt: skip
    # Huge, infinite or not-a-number: one line, never a traceback.
    for huge in ("400d", "inf", "nan", "1e400", "9" * 400 + "d"):
        out = cli("grants", "add", "user:bob", "r", "web", "--for", huge, code=2)
        assert "Traceback" not in out
        assert "not a duration" in out or "is not between 1 and 31622400 seconds" in out
