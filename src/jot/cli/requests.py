"""``jot requests``: ask for access for a while, and answer others' requests."""

from __future__ import annotations

from typing import Any

import click

from jot.api.durations import spoken
from jot.api.requests import AccessRequestCreate
from jot.cli._duration import Duration
from jot.cli._ids import unique
from jot.cli._options import json_option, server_option
from jot.cli._output import cell, print_items, print_json, say
from jot.cli._remote import call, client
from jot.cli._validate import checked
from jot.client import ClientError, ops

__all__ = ["requests"]

_STATES = ["pending", "approved", "denied", "cancelled", "expired"]
_FIELDS = ("requester", "role", "resource", "duration", "reason", "state", "created",
           "expires", "decided", "decided_by", "note", "grant", "grant_expires")  # fmt: skip


def _row(request: Any) -> list[Any]:
    return [
        request.id, request.requester, request.role, request.resource,
        spoken(request.duration), request.state, request.created, request.reason,
    ]  # fmt: skip


def _resolve(server: str | None, given: str) -> str:
    """The id of the request ``given`` names (its id, or a unique start of it)."""
    with client(server) as opened:
        try:
            opened.call(ops.access_request_get(given))
            return given
        except ClientError as exc:
            if exc.status != 404:
                raise click.ClickException(exc.message) from None
            listed = opened.call(ops.access_requests_list()).items
    found: str = unique(given, listed, lambda r: r.id, "access request").id
    return found


def _show(result: Any, as_json: bool) -> None:
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    fields = {"id": result.id, **{f: getattr(result, f) for f in _FIELDS}}
    fields["duration"] = spoken(result.duration)
    width = max(len(name) for name in fields) + 1
    for name, value in fields.items():
        click.echo(f"{name.replace('_', ' ') + ':':<{width}} {cell(value)}")


@click.group()
def requests() -> None:
    """Access requests: ask for a role for a while; approvers answer."""


@requests.command("add")
@click.argument("role")
@click.argument("resource")
@click.option("--for", "duration", type=Duration(60), required=True, help="How long (30m, 2h, 1d).")
@click.option("--reason", required=True, help="Why: shown to the approvers.")
@server_option
@json_option
def requests_add(
    role: str, resource: str, duration: int, reason: str, server: str | None, as_json: bool
) -> None:
    """Ask for ROLE on RESOURCE for a while (--for), saying why (--reason)."""
    checked(AccessRequestCreate, role=role, resource=resource, duration=duration, reason=reason)
    made = call(server, ops.access_request_create(role, resource, duration=duration, reason=reason))
    if as_json:
        print_json(made.model_dump(mode="json"))
        return
    say(f"asked for {role} on {resource} for {spoken(duration)} (request {made.id})")
    say(f"it waits for an approver until {cell(made.expires)}: jot requests show {made.id}")


@requests.command("list")
@click.option("--state", type=click.Choice(_STATES), help="Only requests in this state.")
@click.option("--mine", is_flag=True, help="Only your own requests.")
@server_option
@json_option
def requests_list(state: str | None, mine: bool, server: str | None, as_json: bool) -> None:
    """List requests, newest first: yours and those you may answer (all, for admins)."""
    print_items(
        call(server, ops.access_requests_list(state=state, mine=mine)),
        as_json,
        ["id", "requester", "role", "resource", "for", "state", "created", "reason"],
        _row,
    )


@requests.command("show")
@click.argument("request_id", metavar="ID")
@server_option
@json_option
def requests_show(request_id: str, server: str | None, as_json: bool) -> None:
    """Show one request (by its id or a unique start of it)."""
    found = call(server, ops.access_request_get(_resolve(server, request_id)))
    _show(found, as_json)


def _answer(request_id: str, note: str | None, server: str | None, approve: bool) -> Any:
    resolved = _resolve(server, request_id)
    return call(server, ops.access_request_answer(resolved, approve=approve, note=note))


_note = click.option("--note", help="A word for the requester (kept in the audit log).")


@requests.command("approve")
@click.argument("request_id", metavar="ID")
@_note
@server_option
@json_option
def requests_approve(request_id: str, note: str | None, server: str | None, as_json: bool) -> None:
    """Approve request ID: its requester holds the role for the time asked, from now."""
    result = _answer(request_id, note, server, approve=True)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    until = cell(result.grant_expires) if result.grant_expires else "it is removed"
    say(
        f"approved: {result.requester} holds {result.role} on {result.resource} "
        f"until {until} (grant {result.grant})"
    )


@requests.command("deny")
@click.argument("request_id", metavar="ID")
@_note
@server_option
@json_option
def requests_deny(request_id: str, note: str | None, server: str | None, as_json: bool) -> None:
    """Deny request ID."""
    result = _answer(request_id, note, server, approve=False)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    say(f"denied {result.requester}'s request for {result.role} on {result.resource}")


@requests.command("cancel")
@click.argument("request_id", metavar="ID")
@server_option
def requests_cancel(request_id: str, server: str | None) -> None:
    """Take back your own request while it waits."""
    result = call(server, ops.access_request_cancel(_resolve(server, request_id)))
    say(f"cancelled request {result.id}")
