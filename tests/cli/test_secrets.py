"""Secrets in and out of the CLI: prompts only on a terminal (a real pseudo-terminal here),
`--password-stdin` on every command that takes a password, and `--out` files with mode 0600."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from jot.cli import _credentials as creds
from jot.cli.main import cli
from tests.terminal import run_in_terminal

JOT = [sys.executable, "-c", "from jot.cli.entry import main; main()"]
NOWHERE = "http://127.0.0.1:9"  # The discard port: nothing answers there.


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    values.pop("JOT_ACCESS_KEY", None)
    values.pop("JOT_SERVER", None)
    return values


def test_login_key_stdin_asks_on_a_terminal(env: dict[str, str]) -> None:
    key = "jot_ak_" + "a" * 12 + "_" + "b" * 32
    done = run_in_terminal([*JOT, "login", NOWHERE, "--key-stdin"], [("Access key:", key)], env=env)
    assert done.returncode == 1
    assert "Access key:" in done.output
    assert key not in done.output  # No echo.
    assert done.lines[-1].startswith(f"Error: cannot reach {NOWHERE}")


def test_a_short_new_password_is_refused_before_the_second_prompt(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    creds.remember(NOWHERE, {"access_key": "jot_ak_x", "name": "admin"})
    done = run_in_terminal(
        [*JOT, "users", "add", "bob@example.com", "--password"], [("Password:", "short")], env=env
    )
    assert done.returncode == 1
    assert "Repeat" not in done.output
    assert done.lines[-1] == "Error: password must be at least 8 characters"


@pytest.mark.parametrize(
    "args",
    [
        ["users", "add", "bob@example.com", "--password"],
        ["users", "passwd", "bob@example.com"],
        ["passwd"],
        ["login", NOWHERE, "--name", "bob@example.com"],
    ],
    ids=["users-add", "users-passwd", "passwd", "login"],
)
def test_no_password_prompt_on_a_pipe(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("JOT_ACCESS_KEY", raising=False)
    creds.remember(NOWHERE, {"access_key": "jot_ak_x", "name": "admin"})
    result = CliRunner().invoke(cli, args, input="secret-password\n")
    assert result.exit_code == 1
    assert result.output == (
        "Error: cannot ask for the password: stdin is not a terminal (use --password-stdin)\n"
    )
    with_flag = CliRunner().invoke(cli, [*args, "--password-stdin"], input="short\nshort\n")
    assert with_flag.exit_code == 1
    if args[0] != "login":
        assert with_flag.output == "Error: password must be at least 8 characters\n"
    long_enough = CliRunner().invoke(
        cli, [*args, "--password-stdin"], input="secret-password\nsecret-password\n"
    )
    assert long_enough.output.startswith(f"Error: cannot reach {NOWHERE}")  # Sent, then.


def test_access_key_out_file_is_private_and_checked_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("JOT_ACCESS_KEY", raising=False)
    creds.remember(NOWHERE, {"access_key": "jot_ak_x", "name": "admin"})
    taken = tmp_path / "taken.key"
    taken.write_text("keep me\n")
    for out, message in (
        (taken, f"Error: {taken} exists; pass --force to replace it\n"),
        (tmp_path / "no" / "dir.key", f"Error: cannot write {tmp_path}/no/dir.key: "),
    ):
        result = CliRunner().invoke(cli, ["access-keys", "add", "svc", "--out", str(out)])
        assert result.exit_code == 1
        assert result.output.startswith(message)  # Refused before the server was asked.
    assert taken.read_text() == "keep me\n"


@pytest.mark.parametrize("text", ["jot_ak_…", "not a key", "jot_ak_" + "é" * 20, ""])
def test_login_refuses_text_that_is_not_an_access_key(env: dict[str, str], text: str) -> None:
    result = CliRunner().invoke(cli, ["login", NOWHERE, "--key-stdin"], input=text + "\n", env=env)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("Error: ")
    assert "Traceback" not in result.output
