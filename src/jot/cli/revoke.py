"""``jot revoke``: refuse a user's tokens, or one token, at every destination now."""

from __future__ import annotations

import click

from jot.cli._options import json_option, server_option
from jot.cli._output import cell, print_items, print_json, say
from jot.cli._remote import call, remove_by_id
from jot.client import ops

__all__ = ["revoke"]

_USAGE = "give user:NAME, token JTI, list, or lift ID"


@click.command()
@click.argument("what", nargs=-1, required=True, metavar="user:NAME | token JTI | list | lift ID")
@click.option("--reason", help="Why (kept with the entry and in the audit log).")
@server_option
@json_option
def revoke(what: tuple[str, ...], reason: str | None, server: str | None, as_json: bool) -> None:
    """Revoke a user (its access keys, and every token it holds, at every destination) or one
    token by its jti; list the entries in force, or lift one. Entries age out by themselves
    when the last token they concern has expired."""
    if what == ("list",):
        print_items(
            call(server, ops.revocations_list()), as_json,
            ["id", "subject", "until", "actor", "reason"],
            lambda r: [r.id, r.target, r.until, r.actor, r.reason],
        )  # fmt: skip
        return
    if len(what) == 2 and what[0] == "lift":
        lifted = remove_by_id(
            server, what[1], ops.revocation_delete, ops.revocations_list(), "revocation"
        )
        say(f"lifted revocation {lifted}")
        return
    if len(what) == 2 and what[0] == "token":
        made = call(server, ops.revocation_create(token=what[1], reason=reason))
    elif len(what) == 1 and what[0].startswith("user:"):
        made = call(server, ops.revocation_create(subject=what[0], reason=reason))
    else:
        raise click.UsageError(_USAGE)
    if as_json:
        print_json(made.model_dump(mode="json"))
        return
    keys = made.revoked_access_keys
    also = f"; {len(keys)} access key{'s' if len(keys) != 1 else ''} revoked" if keys else ""
    say(f"revoked {made.target} at every destination until {cell(made.until)}{also}")
