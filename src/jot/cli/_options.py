"""The options every command spells the same way, and the two rules that go with them:
asking before a destructive change, and saying that a spelling is deprecated.

Only click is imported here: ``jot token`` and ``jot kubeconfig`` use these options without
paying for httpx or pydantic.
"""

from __future__ import annotations

import sys

import click

__all__ = ["REMOVED_IN", "confirm", "deprecated", "json_option", "server_option", "yes_option"]

#: The release that drops the deprecated spellings still accepted today.
REMOVED_IN = "0.3"

server_option = click.option(
    "--server",
    metavar="URL",
    help="The jot server (authority) to talk to; default: $JOT_SERVER, else the one you last "
    "logged in to.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


def confirm(action: str, consequence: str, *, yes: bool) -> None:
    """Ask once on a terminal before ``action`` (``remove the group ops``); ``--yes`` skips
    the question. Without a terminal there is no one to ask: refuse, in one line, rather than
    read an answer from a pipe."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.ClickException(
            f"will not {action} without confirmation: pass --yes (stdin is not a terminal)"
        )
    click.confirm(f"{action[0].upper()}{action[1:]}? {consequence}", abort=True)


def deprecated(old: str, new: str) -> None:
    """The one-line notice for a spelling that still works until :data:`REMOVED_IN`."""
    click.echo(f"warning: {old} is deprecated (removed in {REMOVED_IN}): {new}", err=True)
