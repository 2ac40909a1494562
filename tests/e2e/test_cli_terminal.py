"""The admin commands as a person at a terminal meets them, with the real `jot` against a real
server: a removal asks once (and `n` keeps everything), a narrow terminal never cuts an id,
times show their zone, and `jot audit --follow` prints events as they are written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_authority_support import JOT, Server, cli, run_server
from tests.terminal import run_in_terminal

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    tmp = tmp_path_factory.mktemp("terminal")
    with run_server(tmp / "data") as server:
        home = tmp / "home"
        cli(home, "login", server.url, "--key-stdin", stdin=server.admin_key() + "\n")
        yield server, home


def jot(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return cli(home, *args, env=env or None)


def on_terminal(home: Path, args: list[str], answers=(), **env: str):
    full = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"), "NO_COLOR": "1", **env}  # fmt: skip
    full.pop("JOT_ACCESS_KEY", None)
    return run_in_terminal([*JOT, *args], answers, env=full)


def exists(server: Server, kind: str, name: str) -> bool:
    path = {"users": "users", "groups": "groups", "destinations": "destinations"}[kind]
    headers = {"Authorization": f"Bearer {server.admin_key()}"}
    answer = httpx.get(f"{server.url}/api/{path}/{name}", headers=headers, timeout=10)
    return answer.status_code == 200


@pytest.mark.parametrize(
    ("kind", "name", "question"),
    [
        ("users", "bob@example.com", "Remove bob@example.com? Its grants and access keys go too"),
        ("groups", "ops", "Remove the group ops? Its grants go too; its members stay"),
        ("destinations", "web", "Remove the destination web? No more tokens are issued for it"),
    ],
)
def test_a_removal_asks_once_on_a_terminal(world, kind: str, name: str, question: str) -> None:
    server, home = world
    jot(home, kind, "add", name)
    said_no = on_terminal(home, [kind, "remove", name], [("[y/N]:", "n")])
    assert said_no.returncode == 1
    assert f"{question} [y/N]: n" in said_no.output
    assert exists(server, kind, name)
    said_yes = on_terminal(home, [kind, "remove", name], [("[y/N]:", "y")])
    assert said_yes.returncode == 0, said_yes.output
    assert said_yes.output.count("[y/N]") == 1
    assert not exists(server, kind, name)


def test_a_narrow_terminal_never_cuts_an_id_and_times_show_their_zone(world) -> None:
    _, home = world
    jot(home, "destinations", "add", "narrow")
    grant = json.loads(
        jot(home, "grants", "add", "user:admin", "viewer", "narrow", "--json").stdout
    )["id"]
    shown = on_terminal(home, ["grants", "list", "--destination", "narrow"], COLUMNS="40",
                        TZ="America/New_York")  # fmt: skip
    assert shown.returncode == 0, shown.output
    assert any(grant in line for line in shown.lines), shown.output
    assert any("user:admin" in line for line in shown.lines)
    assert re.search(r" E[SD]T\b", shown.output), shown.output
    keys = on_terminal(home, ["signing-keys", "list"], COLUMNS="40")
    kid = json.loads(jot(home, "signing-keys", "list", "--json").stdout)[0]["kid"]
    assert any(kid in line for line in keys.lines), keys.output


def test_audit_follow_prints_events_as_they_are_written(world) -> None:
    _, home = world
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_CACHE_HOME": str(home / "cache")}  # fmt: skip
    env.pop("JOT_ACCESS_KEY", None)
    with subprocess.Popen(
        [*JOT, "audit", "--follow", "--kind", "group.", "--interval", "1s", "--json"],
        stdout=subprocess.PIPE, env=env, text=True,
    ) as follow:  # fmt: skip
        try:
            time.sleep(1.5)
            jot(home, "groups", "add", "followed")
            deadline = time.monotonic() + 20
            line = ""
            while time.monotonic() < deadline and "followed" not in line:
                line = follow.stdout.readline() if follow.stdout else ""
            assert json.loads(line)["kind"] == "group.created"
        finally:
            follow.terminate()
