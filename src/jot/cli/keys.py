"""``jot access-keys`` (long-lived credentials) and ``jot signing-keys`` (the authority's)."""

from __future__ import annotations

from typing import Any

import click

from jot.cli._duration import Duration
from jot.cli._options import confirm, json_option, server_option, yes_option
from jot.cli._output import print_items, print_json
from jot.cli._remote import call, remove_by_id
from jot.cli._secrets import check_secret_file, write_secret_file
from jot.client import ops

__all__ = ["access_keys", "signing_keys"]


@click.group("access-keys")
def access_keys() -> None:
    """Long-lived access keys (the secret is shown once, at creation)."""


@access_keys.command("list")
@click.option("--identity", help="Only the keys of this identity.")
@server_option
@json_option
def access_keys_list(identity: str | None, server: str | None, as_json: bool) -> None:
    """List access keys: yours, or everyone's for admins and viewers."""
    print_items(
        call(server, ops.access_keys_list(identity=identity)),
        as_json,
        ["id", "identity", "name", "expires", "last used", "revoked", "made with"],
        lambda k: [k.id, k.identity, k.name, k.expires, k.last_used, k.revoked, k.parent],
    )


@access_keys.command("add")
@click.argument("identity")
@click.option("--name", default="key", show_default=True, help="A label for the key.")
@click.option("--ttl", type=Duration(0), help="Time until it expires (30d, 12h; 0: never).")
@click.option("--inactivity", type=Duration(0), help="Disuse before it expires (3d; 0: never).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Write the key to this file (mode 0600) instead of stdout.",
)
@click.option("--force", is_flag=True, help="With --out: replace an existing file.")
@server_option
@json_option
def access_keys_add(
    identity: str,
    name: str,
    ttl: int | None,
    inactivity: int | None,
    out: str | None,
    force: bool,
    server: str | None,
    as_json: bool,
) -> None:
    """A new access key for IDENTITY; the secret is shown only this once.

    A key for yourself is made from the key you are logged in with and never outlives it
    (expiry, inactivity, revocation). An admin's key for another identity stands alone.
    """
    if out is not None:
        check_secret_file(out, force=force)
    result = call(
        server, ops.access_key_create(identity, name=name, ttl=ttl, inactivity_timeout=inactivity)
    )
    if as_json and out is None:
        print_json(result.model_dump(mode="json"))
        return
    if out is not None:
        write_secret_file(out, result.access_key, force=force)
        click.echo(f"access key {result.key.id} for {identity} written to {out} (mode 0600)")
    else:
        click.echo(result.access_key)
    if result.key.parent is not None:
        until = result.key.expires.isoformat() if result.key.expires else "never"
        click.echo(
            f"made with access key {result.key.parent}: it is revoked with that key; "
            f"expires: {until}",
            err=True,
        )


@access_keys.command("remove")
@click.argument("key_id")
@server_option
def access_keys_remove(key_id: str, server: str | None) -> None:
    """Revoke the access key KEY_ID (or the one whose id starts with it)."""
    key_id = remove_by_id(
        server, key_id, ops.access_key_revoke, ops.access_keys_list(), "access key"
    )
    click.echo(f"revoked access key {key_id}")


@click.group("signing-keys")
def signing_keys() -> None:
    """The authority's signing keys."""


def _show_keys(result: Any, as_json: bool) -> None:
    print_items(
        result,
        as_json,
        ["kid", "alg", "state", "activates", "retires", "published until"],
        lambda k: [k.kid, k.alg, k.state, k.activates, k.retires, k.published_until],
    )


@signing_keys.command("list")
@server_option
@json_option
def signing_keys_list(server: str | None, as_json: bool) -> None:
    """List the signing keys: next, active, retired and revoked."""
    _show_keys(call(server, ops.signing_keys_list()), as_json)


@signing_keys.command("rotate")
@yes_option
@server_option
@json_option
def signing_keys_rotate(yes: bool, server: str | None, as_json: bool) -> None:
    """Emergency rotation: revoke the signing key now; its tokens stop verifying."""
    confirm("revoke the current signing key now", "Tokens it signed stop working", yes=yes)
    _show_keys(call(server, ops.signing_keys_rotate()), as_json)
