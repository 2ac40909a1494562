"""``jot server``: hand the process over to the authority (``python -m jot.authority``).

The CLI never imports the server code: the two meet only over HTTP, and the server's
dependencies come with the ``server`` extra. ``exec`` keeps the process id, so signals
(SIGTERM for a graceful stop) reach the server directly.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import click

__all__ = ["server"]


@click.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    },
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def server(args: tuple[str, ...]) -> None:
    """Run the jot authority (`jot server --help` for its options)."""
    if (
        importlib.util.find_spec("jot.authority.cli") is None
        or importlib.util.find_spec("fastapi") is None
    ):
        raise click.ClickException("the server is not installed: pip install 'jot[server]'")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "jot.authority", *args])  # noqa: S606
