"""Admin commands through the real client against an in-process authority."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import jot.cli.admin as admin_cli
from jot.authority.app import create_app, open_authority
from jot.authority.settings import Settings
from jot.cli import _credentials as creds
from jot.cli import _remote
from jot.client import Client

SERVER = "http://authority.test"


class SyncASGI(httpx.BaseTransport):
    """httpx's ASGI transport is async only; the CLI's client is sync."""

    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._transport.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        request.read()
        return asyncio.run(send())


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    started = open_authority(Settings(data_dir=tmp_path / "data", issuer=SERVER))
    assert started.bootstrap_key is not None
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("JOT_ACCESS_KEY", raising=False)
    creds.remember(SERVER, {"access_key": started.bootstrap_key, "name": "admin"})
    transport = SyncASGI(create_app(authority=started.authority))
    monkeypatch.setattr(
        _remote, "Client", lambda server, key: Client(server, key, transport=transport)
    )

    def run(*args: str, code: int = 0) -> str:
        command = getattr(admin_cli, args[0].replace("-", "_"))
        result = CliRunner().invoke(command, list(args[1:]))
        assert result.exit_code == code, result.output
        return result.output

    run.transport = transport  # type: ignore[attr-defined]
    run.admin_key = started.bootstrap_key  # type: ignore[attr-defined]
    yield run
    started.authority.close()


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
    out = cli("destinations", "remove", "jot", code=1)
    assert "cannot be deleted" in out


def test_signing_keys_rotate(cli: Any) -> None:
    before = json.loads(cli("signing-keys", "list", "--json"))
    assert [k["state"] for k in before] == ["active"]
    after = json.loads(cli("signing-keys", "rotate", "--yes", "--json"))
    assert sorted(k["state"] for k in after) == ["active", "revoked"]


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
