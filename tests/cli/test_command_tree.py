"""Every command of `jot`, walked: one vocabulary (--server for the jot server, --listen for
every service, no visible old spelling), a one-line help for every command and option, and
a shell completion script that completes them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from jot.authority.cli import server as authority_server
from jot.cli.main import COMMANDS, cli

JOT = Path(sys.executable).parent / "jot"


def commands() -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(cli)

    def walk(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
        yield path, command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                found = command.get_command(ctx, name)
                assert found is not None, f"{path} {name} does not load"
                yield from walk(found, f"{path} {name}")

    yield from walk(cli, "jot")
    yield from walk(authority_server, "jot server")


ALL = dict(commands())


def test_every_command_loads() -> None:
    assert {path.split()[1] for path in ALL if len(path.split()) > 1} == set(COMMANDS)


@pytest.mark.parametrize("path", sorted(ALL))
def test_every_command_and_option_has_a_one_line_help(path: str) -> None:
    command = ALL[path]
    if path != "jot server":  # The CLI's hand-over to the authority: its help is the server's.
        assert command.get_short_help_str(200), f"{path} has no help"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{path} {param.opts[0]} has no help"


def _options(command: click.Command) -> set[str]:
    return {
        opt
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden
        for opt in param.opts
    }


def test_one_vocabulary() -> None:
    """The jot server is --server (or SERVER), everywhere; a service listens on --listen;
    connectors name the token issuer --issuer; old spellings are hidden aliases at most."""
    for path, command in ALL.items():
        shown = _options(command)
        assert not shown & {"--authority", "--host", "--port", "--url", "--address"}, path
        talks = {o for o in shown if o.endswith("server")}
        assert talks <= {"--server", "--cluster-server"}, (path, talks)
    services = ["jot server", *(p for p in ALL if p.startswith("jot connector "))]
    for path in services:
        assert "--listen" in _options(ALL[path]), path
    for path in (p for p in ALL if p.startswith("jot connector ")):
        issuer = next(p for p in ALL[path].params if p.name == "issuer")
        assert "issuer" in (issuer.help or "")
        assert "JOT_SERVER" in (issuer.help or "")


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort -F _jot_completion jot"), ("zsh", "compdef"),
     ("fish", "complete --no-files --command jot")],
)  # fmt: skip
def test_completion_prints_the_script_of_each_shell(shell: str, marker: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0, result.output
    assert marker in result.output
    assert "_JOT_COMPLETE" in result.output
    assert CliRunner().invoke(cli, ["completion", "tcsh"]).exit_code == 2


def test_the_bash_script_completes_in_a_real_bash() -> None:
    script = CliRunner().invoke(cli, ["completion", "bash"]).output
    probe = (
        f"{script}\n"
        "COMP_WORDS=(jot users re); COMP_CWORD=2; _jot_completion jot\n"
        'echo "${COMPREPLY[*]}"\n'
        "COMPREPLY=(); COMP_WORDS=(jot connector proxy --list); COMP_CWORD=3; _jot_completion jot\n"
        'echo "${COMPREPLY[*]}"\n'
    )
    env = {**os.environ, "PATH": f"{JOT.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["remove rename", "--listen"]


def test_a_dependency_of_a_missing_extra_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "jot_probe_command.py").write_text(
        "import click\n\n@click.command()\ndef probe():\n    import not_an_installed_module\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(COMMANDS, "connector", "jot_probe_command:probe")
    result = CliRunner().invoke(cli, ["connector"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: not_an_installed_module is not installed; this command needs "
        "pip install 'jot[destination]'\n"
    )
