"""Admin commands through the real client against an in-process authority."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from jot.cli import _credentials as creds
from jot.cli.main import cli as jot_cli
from jot.client import ops
from tests.cli.conftest import SERVER


def test_users_groups_grants_as_tables_and_json(cli: Any) -> None:
    assert cli("users", "add", "svc", "--machine") == "added machine svc\n"
    assert cli("groups", "add", "ops") == "added group ops\n"
    cli("groups", "add-member", "ops", "svc")
    cli("destinations", "add", "web", "--lifetime", "90", "--groups", "grants")
    assert "granted viewer on web to group:ops" in cli(
        "grants", "add", "group:ops", "viewer", "web"
    )
    table = cli("users", "list").splitlines()
    assert table[0].split("\t") == ["NAME", "KIND", "GROUPS", "PASSWORD", "CREATED"]
    assert any(line.startswith("svc\tmachine\tops\tno\t") for line in table)
    grants = json.loads(cli("grants", "list", "--destination", "web", "--json"))
    assert [(g["subject"], g["role"], g["resource"]) for g in grants] == [
        ("group:ops", "viewer", "web")
    ]
    destinations = json.loads(cli("destinations", "list", "--json"))
    assert {d["name"]: d["lifetime"] for d in destinations} == {"jot": 300, "web": 90}
    key = cli("access-keys", "add", "svc", "--name", "ci").strip()
    assert key.startswith("jot_ak_")
    keys = json.loads(cli("access-keys", "list", "--identity", "svc", "--json"))
    assert [k["name"] for k in keys] == ["ci"]
    assert key not in json.dumps(keys)
    cli("access-keys", "remove", keys[0]["id"])
    audit = json.loads(cli("audit", "--since", "1h", "--kind", "access_key.", "--json"))
    assert [e["kind"] for e in audit] == ["access_key.revoked", "access_key.created"]


def test_mistakes_are_one_line(cli: Any) -> None:
    out = cli("groups", "remove", "nope", code=1)
    assert out == "Error: no group named 'nope'\n"
    out = cli("grants", "add", "user:ghost", "r", "web", code=1)
    assert out == "Error: no destination named 'web'; create it first\n"
    out = cli("destinations", "remove", "jot", "--yes", code=1)
    assert "cannot be deleted" in out


def test_signing_keys_rotate(cli: Any) -> None:
    before = json.loads(cli("signing-keys", "list", "--json"))
    assert [k["state"] for k in before] == ["active"]
    after = json.loads(cli("signing-keys", "rotate", "--yes", "--json"))
    assert sorted(k["state"] for k in after) == ["active", "revoked"]


def test_rename_password_reset_and_key_lineage(cli: Any) -> None:
    cli("users", "add", "BOB@Example.com", "--password-stdin", input="bobs password\n")
    assert "already exists" in cli("users", "add", "bob@example.com", code=1)
    cli("destinations", "add", "web")
    cli("grants", "add", "user:bob@example.com", "viewer", "web")
    assert cli("users", "rename", "bob@example.com", "robert@example.com") == (
        "renamed bob@example.com to robert@example.com\n"
    )
    grants = json.loads(cli("grants", "list", "--destination", "web", "--json"))
    assert [g["subject"] for g in grants] == ["user:robert@example.com"]
    cli("access-keys", "add", "robert@example.com")
    out = cli(
        "users",
        "passwd",
        "robert@example.com",
        "--revoke-keys",
        "--password-stdin",
        input="new pass 1\n",
    )
    assert out.endswith("password of robert@example.com set; its access keys are revoked\n")
    keys = json.loads(cli("access-keys", "list", "--identity", "robert@example.com", "--json"))
    assert all(k["revoked"] is not None for k in keys)

    # The admin's key for itself is made from the admin's key, and says so on stderr.
    result = CliRunner().invoke(jot_cli, ["access-keys", "add", "admin"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("jot_ak_")
    assert "made with access key" in result.stderr
    table = cli("access-keys", "list", "--identity", "admin").splitlines()
    assert table[0].split("\t")[-1] == "MADE WITH"


def test_passwd_can_revoke_the_other_keys(cli: Any) -> None:
    cli("users", "add", "carol", "--password-stdin", input="carols password\n")
    other = cli.client().login("carol", "carols password").access_key  # Another session.
    mine = cli.client().login("carol", "carols password").access_key
    creds.remember(SERVER, {"access_key": mine, "name": "carol"})
    answers = "carols password\nnew password\n"
    assert cli("passwd", "--password-stdin", input=answers).endswith(
        "Password changed\n"
    )  # No terminal: kept.
    answers = "new password\nthird password\n"
    out = cli("passwd", "--revoke-other-keys", "--password-stdin", input=answers)
    assert out.endswith("Password changed; your other access keys are revoked\n")
    keys = {k.id: k.revoked for k in cli.client(mine).call(ops.access_keys_list()).items}
    assert keys[other.split("_")[2]] is not None
    assert keys[mine.split("_")[2]] is None


def test_providers_verifies_email_flag(cli: Any) -> None:
    cli("providers", "add", "corp", "--issuer", "https://idp.example", "--client-id", "jot")
    out = cli("providers", "update", "corp", "--verifies-email", "--json")
    assert json.loads(out)["verifies_email"] is True


def test_access_key_out_file_is_0600(cli: Any, tmp_path: Path) -> None:
    cli("users", "add", "svc", "--machine")
    out = tmp_path / "svc.key"
    said = cli("access-keys", "add", "svc", "--out", str(out))
    assert said.startswith("access key ")
    assert said.endswith(f" for svc written to {out} (mode 0600)\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    key = out.read_text().strip()
    assert key.startswith("jot_ak_")
    assert key not in said
    cli("access-keys", "add", "svc", "--out", str(out), code=1)
    cli("access-keys", "add", "svc", "--out", str(out), "--force")
    assert out.read_text().strip() != key
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grants", "add", "alice", "viewer", "web"], "subject must be user:NAME or group:NAME"),
        (["grants", "add", "user:alice", "view er", "web"], "role must be letters, digits"),
        (["grants", "add", "user:alice", "viewer", "Web"], "resource must be a destination"),
        (["destinations", "add", "Web"], "name must be lower-case letters, digits, _ and -"),
        (["users", "add", "_bob"], "name must be letters, digits and @ . _ + : -"),
        (["groups", "add", "a b"], "name must be letters, digits and @ . _ + : -"),
    ],
)
def test_validation_speaks_the_users_language(cli: Any, args: list[str], message: str) -> None:
    out = cli(*args, code=1)
    assert out.startswith(f"Error: {message}")
    assert len(out.splitlines()) == 1


def test_access_keys_list_without_identity_lists_them_all(cli: Any) -> None:
    keys = json.loads(cli("access-keys", "list", "--json"))
    assert [(k["identity"], k["name"]) for k in keys] == [("admin", "bootstrap")]


def test_every_duration_flag_takes_durations(cli: Any) -> None:
    cli("users", "add", "svc", "--machine")
    made = json.loads(cli("destinations", "add", "web", "--lifetime", "2m", "--json"))
    assert made["lifetime"] == 120
    key = json.loads(
        cli("access-keys", "add", "svc", "--ttl", "30d", "--inactivity", "2h", "--json")
    )
    assert key["key"]["inactivity_timeout"] == 7200
    assert cli("audit", "--since", "1h30m", "--json").startswith("[")
    out = cli("destinations", "add", "db", "--lifetime", "2 weeks", code=2)
    assert "'2 weeks' is not a duration like 300, 90s, 5m, 2h or 30d" in out


def test_untrusted_text_is_shown_escaped(cli) -> None:
    """An anonymous callback's ``error`` parameter is stored as given, and ``jot audit``
    shows it without letting its escape sequences reach the terminal."""
    hostile = "\x1b]0;pwned\x07\x1b[31mred\u202eevil"
    with httpx.Client(transport=cli.transport, base_url=SERVER) as http:
        provider = {"name": "idp", "issuer": "https://idp.invalid", "client_id": "c"}
        admin = {"Authorization": f"Bearer {cli.admin_key}"}
        assert http.post("/api/providers", json=provider, headers=admin).status_code == 201
        page = http.get("/oidc/idp/callback", params={"error": hostile})
    assert page.status_code == 400
    out = cli("audit", "--kind", "oidc.login.failed")
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in out
    assert "\\x1b]0;pwned\\x07\\x1b[31mred\\u202eevil" in out
    stored = json.loads(cli("audit", "--kind", "oidc.login.failed", "--json"))
    assert hostile in stored[0]["detail"]["message"]  # Stored as given.


def test_grants_check_explains_access(cli: Any) -> None:
    cli("users", "add", "alice")
    cli("groups", "add", "dev")
    cli("groups", "add-member", "dev", "alice")
    cli("destinations", "add", "web")
    cli("grants", "add", "user:alice", "viewer", "web")
    cli("grants", "add", "group:dev", "admin", "web.ns")
    out = cli("grants", "check", "user:alice", "web.ns")
    lines = out.splitlines()
    assert lines[0] == "user:alice gets tokens for web (lifetime 300 s, groups in them: dev)"
    assert lines[1] == "roles on web.ns: admin, viewer"
    assert "group:dev" in out
    assert "web.ns" in out
    out = cli("grants", "check", "user:admin", "web")
    assert out.splitlines() == [
        "user:admin gets no token for web: admin has no grant on 'web'; ask an admin for one",
        "roles on web: none",
    ]
    assert cli("grants", "check", "group:dev", "web", "--json").count('"applies": false') == 1
    assert "no destination named 'db'" in cli("grants", "check", "user:alice", "db", code=1)
    assert "subject: user:NAME or group:NAME" in cli("grants", "check", "alice", "web", code=1)
