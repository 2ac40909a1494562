"""``jot completion bash|zsh|fish``: the shell completion script (click's own)."""

from __future__ import annotations

import click

__all__ = ["completion"]

#: Where each shell reads it from, for the help text.
_INSTALL = {
    "bash": 'eval "$(jot completion bash)"  # in ~/.bashrc',
    "zsh": 'eval "$(jot completion zsh)"  # in ~/.zshrc',
    "fish": "jot completion fish > ~/.config/fish/completions/jot.fish",
}


@click.command(epilog="\b\n" + "\n".join(_INSTALL.values()))
@click.argument("shell", type=click.Choice(list(_INSTALL)))
def completion(shell: str) -> None:
    """Print the completion script of SHELL (commands, options, choices)."""
    from click.shell_completion import get_completion_class

    from jot.cli.main import cli

    complete = get_completion_class(shell)
    if complete is None:  # Every choice above is one of click's shells.
        raise click.UsageError(f"no completion for {shell}")
    click.echo(complete(cli, {}, "jot", "_JOT_COMPLETE").source())
