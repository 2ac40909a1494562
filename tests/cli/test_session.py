"""`jot token` from the cache (fast, no heavy imports), its formats, and `jot kubeconfig`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from jot.cli import _credentials as creds
from jot.cli.entry import cached_answer
from jot.cli.session import kubeconfig, passwd, token

SERVER = "https://auth.example"
KEY = "jot_ak_" + "a" * 12 + "_" + "b" * 32


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("JOT_ACCESS_KEY", raising=False)
    monkeypatch.delenv("JOT_SERVER", raising=False)
    creds.remember(SERVER, {"access_key": KEY, "name": "alice", "expires": None})
    return tmp_path


def test_credentials_are_private_and_per_server(home: Path) -> None:
    path = home / "config" / "jot" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds.remember("https://other.example", {"access_key": "x", "name": "bob"})
    assert creds.resolve(None) == ("https://other.example", "x")
    assert creds.resolve(SERVER) == (SERVER, KEY)
    assert creds.forget("https://other.example")
    assert creds.resolve(None) == (SERVER, KEY)


def test_cached_token_in_every_format(home: Path) -> None:
    expires = time.time() + 300
    creds.store_token(SERVER, KEY, "web", "header.payload.sig", expires)
    runner = CliRunner()
    assert runner.invoke(token, ["--for", "web"]).output == "header.payload.sig\n"
    as_json = json.loads(runner.invoke(token, ["--for", "web", "--format", "json"]).output)
    assert as_json["token"] == "header.payload.sig"
    assert as_json["expires"].endswith("Z")
    credential = json.loads(
        runner.invoke(token, ["--for", "web", "--format", "exec-credential"]).output
    )
    assert credential == {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": "header.payload.sig", "expirationTimestamp": as_json["expires"]},
    }
    (cached,) = (home / "cache" / "jot" / "tokens").iterdir()
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600


def test_token_close_to_expiry_is_not_reused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    monkeypatch.setattr(creds.time, "time", lambda: now - 280)
    creds.store_token(SERVER, KEY, "web", "old", now + 20)  # A 5-minute token with 20 s left.
    monkeypatch.setattr(creds.time, "time", lambda: now)
    assert creds.cached_token(SERVER, KEY, "web") is None
    creds.store_token(SERVER, KEY, "web", "fresh", time.time() + 290)
    assert creds.cached_token(SERVER, KEY, "web") is not None
    assert creds.cached_token(SERVER, "jot_ak_other", "web") is None


def test_not_logged_in_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("JOT_ACCESS_KEY", raising=False)
    result = CliRunner().invoke(token, ["--for", "web"])
    assert result.exit_code == 1
    assert result.output == "Error: not logged in; run `jot login SERVER` first\n"


def test_cached_path_imports_nothing_heavy(home: Path) -> None:
    creds.store_token(SERVER, KEY, "web", "header.payload.sig", time.time() + 300)
    probe = (
        "import sys\n"
        "from jot.cli.entry import main\n"
        "sys.argv = ['jot', 'token', '--for', 'web']\n"
        "main()\n"
        "names = ('click', 'httpx', 'pydantic', 'rich', 'jot.authority', 'jot.client')\n"
        "heavy = sorted(m for m in names if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert "header.payload.sig" in result.stdout, result.stderr
    assert "HEAVY []" in result.stdout


def test_kubeconfig_adds_an_exec_context(home: Path) -> None:
    fresh = home / "fresh" / "config"
    result = CliRunner().invoke(
        kubeconfig, ["dev", "--cluster-server", "https://k", "--kubeconfig", str(fresh)]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    path = home / "kube" / "config"
    path.parent.mkdir()
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "other", "cluster": {"server": "https://x"}}],
            }
        )
    )
    args = ["prod", "--cluster-server", "https://k8s.example:6443", "--kubeconfig", str(path)]
    result = CliRunner().invoke(kubeconfig, args)
    assert result.exit_code == 0, result.output
    CliRunner().invoke(kubeconfig, args)  # Idempotent: the context is replaced, not doubled.
    config = yaml.safe_load(path.read_text())
    assert [c["name"] for c in config["clusters"]] == ["other", "jot-prod"]
    assert config["current-context"] == "jot-prod"
    (user,) = [u for u in config["users"] if u["name"] == "jot-prod"]
    assert user["user"]["exec"]["args"] == [
        "token",
        "--for",
        "prod",
        "--format",
        "exec-credential",
        "--server",
        SERVER,
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["token", "--for", "web"],
        ["token", "--for=web", "--format", "json"],
        ["token", "--format=exec-credential", "--for", "web", "--server", SERVER],
    ],
)
def test_entry_answers_cached_tokens_like_the_full_cli(home: Path, args: list[str]) -> None:
    creds.store_token(SERVER, KEY, "web", "header.payload.sig", time.time() + 300)
    full = CliRunner().invoke(token, args[1:])
    assert full.exit_code == 0
    assert cached_answer(args) is not None
    assert f"{cached_answer(args)}\n" == full.output


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["whoami"],
        ["token"],  # --for is missing: the full CLI says so.
        ["token", "--for"],
        ["token", "--for", "--format", "json"],
        ["token", "--for", "web", "--refresh"],
        ["token", "--for", "web", "--format", "yaml"],
        ["token", "--for", "web", "--help"],
        ["token", "--for", "web", "extra"],
        ["token", "--for", "db"],  # Not cached.
        ["token", "--for", "web", "--server", "https://elsewhere.example"],
    ],
)
def test_entry_leaves_everything_else_to_the_full_cli(home: Path, args: list[str]) -> None:
    creds.store_token(SERVER, KEY, "web", "header.payload.sig", time.time() + 300)
    assert cached_answer(args) is None


def test_entry_runs_the_full_cli_otherwise(home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from jot.cli.entry import main; main()", "token"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert result.returncode == 2
    assert "Missing option '--for'" in result.stderr


def test_passwd_refuses_a_short_new_password_before_asking_the_server(home: Path) -> None:
    result = CliRunner().invoke(passwd, ["--password-stdin"], input="current\nshort\n")
    assert result.exit_code == 1
    assert result.output == "Error: password must be at least 8 characters\n"


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"servers": 3}'])
def test_a_damaged_credentials_file_is_refused_and_kept(home: Path, content: str) -> None:
    from jot.cli.main import cli

    path = home / "config" / "jot" / "credentials.json"
    path.write_text(content)
    assert cached_answer(["token", "--for", "web"]) is None
    for args in (["whoami"], ["login", "https://other.example", "--key-stdin"], ["logout"]):
        result = CliRunner().invoke(cli, args, input=KEY + "\n")
        assert result.exit_code == 1, result.output
        assert len(result.output.splitlines()) == 1
        assert result.output.startswith(f"Error: {path} is ")
        assert "jot leaves it untouched" in result.output
        assert path.read_text() == content


def test_every_rewrite_keeps_a_private_backup(home: Path) -> None:
    path = home / "config" / "jot" / "credentials.json"
    before = path.read_text()
    creds.remember("https://other.example", {"access_key": "x", "name": "bob"})
    backup = path.with_name("credentials.json.bak")
    assert backup.read_text() == before
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    creds.forget("https://other.example")
    assert "other.example" in backup.read_text()
