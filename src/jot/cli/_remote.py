"""What every admin command shares: the current server's client and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from jot.cli import _credentials as creds
from jot.cli._options import confirm
from jot.client import Call, Client, ClientError

__all__ = ["ask_first", "call", "client"]

T = TypeVar("T")


@contextmanager
def client(server: str | None) -> Iterator[Client]:
    """A client of ``server`` (default: the current one), with the stored credential."""
    found = creds.resolve(server)
    if found is None:
        raise click.ClickException("not logged in; run `jot login SERVER` first")
    with Client(*found) as opened:
        yield opened


def call(server: str | None, request: Call[T]) -> T:
    """Make one call; an error answer becomes a one-line click error."""
    with client(server) as opened:
        try:
            return opened.call(request)
        except ClientError as exc:
            raise click.ClickException(exc.message) from None


def ask_first(
    server: str | None, yes: bool, lookup: Call[Any], action: str, consequence: str
) -> None:
    """Before a removal: ask once, about a thing that exists (``lookup`` fails first, in one
    line, otherwise); ``--yes`` skips both."""
    if not yes:
        call(server, lookup)
        confirm(action, consequence, yes=False)
