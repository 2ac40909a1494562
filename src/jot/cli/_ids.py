"""IDs as people type them: the whole id as a table shows it, or (like git) any unique start
of it, at least :data:`MIN_PREFIX` characters long."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import click

__all__ = ["MIN_PREFIX", "unique"]

T = TypeVar("T")

#: The shortest start of an id that is taken (git's rule too): shorter ones match too much.
MIN_PREFIX = 4


def unique(given: str, items: Iterable[T], key: Callable[[T], str], what: str) -> T:
    """The item whose id is ``given``, or the one item whose id starts with it; else one
    line saying that none does, or which several do."""
    candidates = list(items)
    for item in candidates:
        if key(item) == given:
            return item
    if len(given) < MIN_PREFIX:
        raise click.ClickException(
            f"no {what} with the id {given!r} (give the id, or at least its first "
            f"{MIN_PREFIX} characters)"
        )
    matches = [item for item in candidates if key(item).startswith(given)]
    if not matches:
        raise click.ClickException(f"no {what} with an id starting with {given!r}")
    if len(matches) > 1:
        shown = ", ".join(sorted(key(item) for item in matches)[:5])
        raise click.ClickException(
            f"{given!r} starts {len(matches)} {what} ids ({shown}); give more of it"
        )
    return matches[0]
