"""`jot kubeconfig`: one vocabulary (--server is the jot server, --cluster-server the API
server, the old spellings deprecated), the absolute path of jot, and no silent switch of
kubectl's current context."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from jot.cli import _credentials as creds
from jot.cli.session import kubeconfig

SERVER = "https://auth.example"
OTHER = "https://other.example"
KEY = "jot_ak_" + "a" * 12 + "_" + "b" * 32


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("JOT_ACCESS_KEY", raising=False)
    monkeypatch.delenv("JOT_SERVER", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    creds.remember(OTHER, {"access_key": KEY, "name": "alice", "expires": None})
    creds.remember(SERVER, {"access_key": KEY, "name": "alice", "expires": None})
    jot = tmp_path / "venv" / "bin" / "jot"
    jot.parent.mkdir(parents=True)
    jot.write_text("#!/bin/sh\n")
    jot.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(jot), "kubeconfig"])
    return tmp_path


def run(home: Path, *args: str, code: int = 0) -> tuple[str, dict]:
    path = home / "kube" / "config"
    result = CliRunner().invoke(kubeconfig, ["prod", *args, "--kubeconfig", str(path)])
    assert result.exit_code == code, result.output
    config = yaml.safe_load(path.read_text()) if path.exists() else {}
    return result.output, config


def exec_of(config: dict) -> dict:
    (user,) = [u for u in config["users"] if u["name"] == "jot-prod"]
    return user["user"]["exec"]


def test_server_is_the_jot_server_and_cluster_server_the_api_server(home: Path) -> None:
    output, config = run(home, "--cluster-server", "https://k8s:6443", "--server", OTHER)
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"] == "https://k8s:6443"
    assert exec_of(config)["args"][-2:] == ["--server", OTHER]
    assert "deprecated" not in output


def test_the_old_spellings_work_for_one_release_with_a_notice(home: Path) -> None:
    output, config = run(home, "--server", "https://k8s:6443", "--authority", OTHER)
    assert config["clusters"][0]["cluster"]["server"] == "https://k8s:6443"
    assert exec_of(config)["args"][-2:] == ["--server", OTHER]
    assert "warning: --server for the Kubernetes API server is deprecated (removed in 0.3)" in (
        output
    )
    assert "warning: --authority is deprecated (removed in 0.3): use --server URL" in output
    output, config = run(home, "--cluster-server", "https://k8s:6443", "--authority", OTHER)
    assert exec_of(config)["args"][-1] == OTHER


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cluster-server", "https://k", "--server", SERVER, "--authority", OTHER],
            "Error: give the jot server once, with --server",
        ),
    ],
)
def test_mistakes_are_one_line_and_write_nothing(home: Path, args: list[str], message: str):
    output, config = run(home, *args, code=2)
    assert message in output
    assert config == {}


def test_the_command_is_the_absolute_path_of_the_running_jot(home: Path) -> None:
    _, config = run(home, "--cluster-server", "https://k")
    assert exec_of(config)["command"] == str(home / "venv" / "bin" / "jot")
    assert exec_of(config)["args"][-1] == SERVER  # The current server.


def test_without_a_jot_executable_it_looks_on_path_and_says_so(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["/usr/bin/python3", "-m", "something"])
    monkeypatch.setenv("PATH", str(home / "venv" / "bin"))
    _, config = run(home, "--cluster-server", "https://k")
    assert exec_of(config)["command"] == str(home / "venv" / "bin" / "jot")
    monkeypatch.setenv("PATH", str(home / "empty"))
    output, config = run(home, "--cluster-server", "https://k")
    assert exec_of(config)["command"] == "jot"
    assert "warning: no jot on PATH" in output


def test_the_current_context_changes_only_when_there_is_none_or_asked(home: Path) -> None:
    output, config = run(home, "--cluster-server", "https://k")
    assert config["current-context"] == "jot-prod"
    assert "kubectl's current context is jot-prod" in output
    path = home / "kube" / "config"
    path.write_text(yaml.safe_dump({**config, "current-context": "work"}))
    output, config = run(home, "--cluster-server", "https://k")
    assert config["current-context"] == "work"
    assert "kubectl's current context stays work" in output
    assert "kubectl config use-context jot-prod" in output
    output, config = run(home, "--cluster-server", "https://k", "--switch")
    assert config["current-context"] == "jot-prod"
    assert "kubectl's current context is now jot-prod (it was work" in output


def test_without_cluster_server_the_destination_names_the_cluster(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``jot destinations add --cluster-server/--cluster-ca`` is where kubeconfigs point."""
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "jot"), "kubeconfig"])
    ca = Path(__file__).parent / "testdata" / "ca.pem"
    cli("destinations", "add", "k8s", "--kind", "kubernetes", "--cluster-server",
        "https://proxy.example", "--cluster-ca", str(ca))  # fmt: skip
    cli("destinations", "add", "bare", "--kind", "kubernetes")
    assert "cluster server: https://proxy.example (own CA)\n" in cli("destinations", "show", "k8s")
    for name in ("k8s", "bare"):
        cli("grants", "add", "user:admin", "view", name)
    path = tmp_path / "kube" / "config"
    cli("kubeconfig", "k8s", "--kubeconfig", str(path))
    (cluster,) = yaml.safe_load(path.read_text())["clusters"]
    data = base64.b64encode(ca.read_bytes()).decode()
    assert cluster["cluster"] == {
        "server": "https://proxy.example",
        "certificate-authority-data": data,
    }
    out = cli("kubeconfig", "bare", "--kubeconfig", str(path), code=1)
    assert out == (
        "Error: 'bare' names no Kubernetes cluster server; ask an admin; "
        "give --cluster-server URL (the Kubernetes API server)\n"
    )
    out = cli("destinations", "add", "web", "--cluster-server", "https://x", code=1)
    assert "only a destination of kind 'kubernetes' names a cluster server" in out
