"""Secrets in and out of the CLI: passwords from a terminal or ``--password-stdin``, access
keys from a terminal or a pipe, and secret files written 0600.

A password is never read from a pipe by accident: without ``--password-stdin`` a command
asks on the terminal, and refuses when there is none (getpass would read the pipe with a
warning, and a confirmation would consume a second line).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = [
    "check_secret_file",
    "min_password_length",
    "password_stdin_option",
    "read_key",
    "read_password",
    "write_secret_file",
]

F = TypeVar("F", bound=Callable[..., Any])


def password_stdin_option(func: F) -> F:
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of stdin (no prompt, no echo).",
    )(func)


def _stdin_line(what: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise click.ClickException(f"no {what} on stdin")
    return value


def min_password_length() -> int:
    """The shortest password the authority accepts: the rule of ``jot.api``, checked here
    before anything is sent."""
    from annotated_types import MinLen

    from jot.api.identities import IdentityCreate

    rules = IdentityCreate.model_fields["password"].metadata
    return next(rule.min_length for rule in rules if isinstance(rule, MinLen))


def read_password(
    label: str = "Password", *, from_stdin: bool, confirm: bool = False, new: bool = False
) -> str:
    """The password, from stdin or a prompt; ``new`` passwords are checked before the second
    prompt, so that a short one is refused at once."""
    if from_stdin:
        password = _stdin_line("password")
    elif not sys.stdin.isatty():
        raise click.ClickException(
            "cannot ask for the password: stdin is not a terminal (use --password-stdin)"
        )
    else:
        password = click.prompt(label, hide_input=True)
    shortest = min_password_length() if new else 0
    if len(password) < shortest:
        raise click.ClickException(f"password must be at least {shortest} characters")
    if confirm and not from_stdin:
        again = click.prompt("Repeat for confirmation", hide_input=True)
        if again != password:
            raise click.ClickException("the two passwords differ")
    return password


#: The shape of an access key: a fixed prefix, ASCII only (it travels in a header).
_ACCESS_KEY = re.compile(r"jot_ak_[A-Za-z0-9_-]{8,200}")


def read_key() -> str:
    """An access key from stdin; on a terminal it is asked for (no echo)."""
    if sys.stdin.isatty():
        key = str(click.prompt("Access key", hide_input=True)).strip()
    else:
        key = _stdin_line("access key").strip()
    # Checked here, so that a pasted placeholder or stray text never reaches an HTTP header.
    if not _ACCESS_KEY.fullmatch(key):
        raise click.ClickException("that is not an access key (they look like jot_ak_…)")
    return key


def check_secret_file(path: str, *, force: bool) -> None:
    """Refuse, before anything is created, an ``--out`` file that cannot be written."""
    if os.path.lexists(path) and not force:
        raise click.ClickException(f"{path} exists; pass --force to replace it")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise click.ClickException(f"cannot write {path}: {directory} is not a directory")


def write_secret_file(path: str, secret: str, *, force: bool) -> None:
    """Write ``secret`` to ``path`` with mode 0600 (atomically when replacing)."""
    from jot.cli.tokens._keys import write_output

    try:
        write_output(path, secret, private=True, force=force)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
