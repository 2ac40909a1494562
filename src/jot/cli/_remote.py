"""What every admin command shares: the current server's client and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import click

from jot.cli import _credentials as creds
from jot.cli._output import printable
from jot.client import Call, Client, ClientError

__all__ = ["call", "client", "json_option", "server_option"]

T = TypeVar("T")

server_option = click.option("--server", help="Which server (default: the current one).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


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
            raise click.ClickException(printable(exc.message)) from None
