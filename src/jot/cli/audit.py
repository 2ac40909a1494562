"""``jot audit``: the audit log, newest first, or followed as it grows (``--follow``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from jot.cli._duration import Duration
from jot.cli._options import json_option, server_option
from jot.cli._output import print_items, print_lines
from jot.cli._remote import call
from jot.client import ops

__all__ = ["audit"]

_HEADERS = ["time", "kind", "actor", "target", "client", "detail"]
#: Events are read again this far back at each poll: one written by a transaction that
#: commits after a later one (another replica, a slow request) is still seen.
_OVERLAP = timedelta(seconds=30)
#: The most events one poll reads (the authority's own limit).
_PAGE = 1000


def _row(event: Any) -> list[Any]:
    return [event.time, event.kind, event.actor, event.target, event.client, event.detail]


def _since(value: str | None) -> datetime | None:
    """``2026-01-01T00:00:00Z``, or a duration back from now (``15m``, ``2h``, ``7d``)."""
    if value is None:
        return None
    try:
        back = Duration().convert(value, None, None)
    except click.BadParameter:
        pass
    else:
        return datetime.now(UTC) - timedelta(seconds=back)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use an ISO time or a duration like 15m, 2h, 7d") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.command()
@click.option("--since", help="ISO time or duration (15m, 2h, 7d).")
@click.option("--until", help="ISO time or duration.")
@click.option("--kind", help="An event kind, or a prefix ending in '.' (login.).")
@click.option("--actor", help="Only events by this identity.")
@click.option(
    "--limit",
    type=click.IntRange(1, _PAGE),
    default=100,
    show_default=True,
    help="At most this many events (with --follow: to start with).",
)
@click.option(
    "--follow", "-f", is_flag=True, help="Then print new events as they come, oldest first."
)
@click.option(
    "--interval",
    type=Duration(1, 3600),
    default="2s",
    show_default=True,
    help="With --follow: how often to ask.",
)
@server_option
@json_option
def audit(
    since: str | None,
    until: str | None,
    kind: str | None,
    actor: str | None,
    limit: int,
    follow: bool,
    interval: int,
    server: str | None,
    as_json: bool,
) -> None:
    """The audit log, newest first; --follow prints new events as they are written."""
    if follow and until is not None:
        raise click.UsageError("--follow reads on from now: it takes no --until")
    start = _since(since)
    result = call(
        server, ops.audit(since=start, until=_since(until), kind=kind, actor=actor, limit=limit)
    )
    if not follow:
        print_items(result, as_json, _HEADERS, _row)
        return
    emit = _json_line if as_json else _tab_line
    if not as_json:
        print_lines([[h.upper() for h in _HEADERS]])
    try:
        cut = len(result.items) == limit
        _follow(server, result.items, kind, actor, interval, emit, since=start, cut=cut)
    except KeyboardInterrupt:
        return  # Ctrl-C is how a follow ends.


def _json_line(event: Any) -> None:
    click.echo(json.dumps(event.model_dump(mode="json")))


def _tab_line(event: Any) -> None:
    print_lines([_row(event)])


def _follow(
    server: str | None,
    first: list[Any],
    kind: str | None,
    actor: str | None,
    interval: int,
    emit: Callable[[Any], None],
    *,
    since: datetime | None,
    cut: bool,
) -> None:
    """Print ``first`` oldest first, then every new event, until interrupted. ``cut``: the
    first read stopped at its limit, so older events than its oldest are not new."""
    seen: dict[int, datetime] = {}
    floor = min((e.time for e in first), default=None) if cut else None
    batch = first
    while True:
        for event in sorted(batch, key=lambda e: (e.time, e.id)):
            if event.id not in seen and (floor is None or event.time >= floor):
                seen[event.id] = event.time
                emit(event)
        if seen:
            # Only the events a poll can still return are remembered.
            newest = max(seen.values())
            seen = {i: t for i, t in seen.items() if t >= newest - 2 * _OVERLAP}
            since = newest - _OVERLAP
        time.sleep(interval)
        batch = call(server, ops.audit(since=since, kind=kind, actor=actor, limit=_PAGE)).items
        if len(batch) == _PAGE:
            click.echo(
                f"warning: more than {_PAGE} events in {interval} s; some may not be shown "
                "(read them with --since/--until)",
                err=True,
            )
