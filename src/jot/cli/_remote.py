"""What every admin command shares: the current server's client and one-line errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from jot.cli import _credentials as creds
from jot.cli._ids import unique
from jot.cli._options import confirm
from jot.cli._output import printable
from jot.client import Call, Client, ClientError

__all__ = ["ask_first", "call", "client", "remove_by_id"]

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
            raise click.ClickException(printable(exc.message)) from None


def ask_first(
    server: str | None, yes: bool, lookup: Call[Any], action: str, consequence: str
) -> None:
    """Before a removal: ask once, about a thing that exists (``lookup`` fails first, in one
    line, otherwise); ``--yes`` skips both."""
    if not yes:
        call(server, lookup)
        confirm(action, consequence, yes=False)


def remove_by_id(
    server: str | None,
    given: str,
    remove: Callable[[str], Call[None]],
    listing: Call[Any],
    what: str,
) -> str:
    """Remove the item whose id is ``given``; when there is none, the one item whose id
    starts with it (:func:`~jot.cli._ids.unique`). Returns the id removed."""
    with client(server) as opened:
        try:
            opened.call(remove(given))
            return given
        except ClientError as exc:
            if exc.status != 404:
                raise click.ClickException(printable(exc.message)) from None
        try:
            found: str = unique(given, opened.call(listing).items, lambda i: i.id, what).id
            opened.call(remove(found))
        except ClientError as exc:
            raise click.ClickException(printable(exc.message)) from None
    return found
