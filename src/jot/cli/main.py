"""The `jot` command: a thin shell over jot's libraries.

Subcommands live in their own modules and are imported only when invoked, so that a cached
`jot token` (run by kubectl before every request) starts fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from jot.cli._credentials import CredentialsError

__all__ = ["cli", "main"]

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "decode": "jot.cli.tokens:decode",
    "verify": "jot.cli.tokens:verify",
    "sign": "jot.cli.tokens:sign",
    "jwk": "jot.cli.tokens:jwk",
    "encrypt": "jot.cli.encryption:encrypt",
    "decrypt": "jot.cli.encryption:decrypt",
    "login": "jot.cli.session:login",
    "logout": "jot.cli.session:logout",
    "whoami": "jot.cli.session:whoami",
    "passwd": "jot.cli.session:passwd",
    "token": "jot.cli.session:token",
    "kubeconfig": "jot.cli.session:kubeconfig",
    "users": "jot.cli.admin:users",
    "groups": "jot.cli.admin:groups",
    "grants": "jot.cli.admin:grants",
    "destinations": "jot.cli.admin:destinations",
    "requests": "jot.cli.requests:requests",
    "revoke": "jot.cli.revoke:revoke",
    "access-keys": "jot.cli.keys:access_keys",
    "signing-keys": "jot.cli.keys:signing_keys",
    "audit": "jot.cli.audit:audit",
    "providers": "jot.cli.providers:providers",
    "server": "jot.cli.server:server",
    "connector": "jot.cli.connector:connector",
    "completion": "jot.cli.completion:completion",
}


#: The extra that brings each command's dependencies, where it is not ``cli``.
EXTRAS = {"server": "server", "connector": "destination"}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CredentialsError as exc:  # A damaged credentials file: one line, untouched.
            raise click.ClickException(str(exc)) from None
        except ModuleNotFoundError as exc:  # A dependency of an extra that is not installed.
            if exc.name is None or exc.name.partition(".")[0] == "jot":
                raise
            extra = EXTRAS.get(ctx.invoked_subcommand or "", "cli")
            raise click.ClickException(
                f"{exc.name} is not installed; this command needs pip install 'jot[{extra}]'"
            ) from None

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # Not written yet, or an extra is missing.
                return None
            raise
        command: Any = getattr(module, attribute, None)
        return command if isinstance(command, click.Command) else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jot")
def cli() -> None:
    """jot: short-lived signed identity tokens."""


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="jot")
