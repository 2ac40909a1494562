"""Admin commands: ``jot users``, ``groups``, ``grants``, ``destinations``, ``access-keys``,
``signing-keys`` and ``audit``. Each lists as a table (``--json`` for scripts)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from jot.cli._output import print_json, print_table
from jot.cli._remote import call, json_option, server_option
from jot.client import ops

__all__ = ["access_keys", "audit", "destinations", "grants", "groups", "signing_keys", "users"]


def _show(result: Any, as_json: bool, headers: list[str], row: Callable[[Any], list[Any]]) -> None:
    items = result.items
    if as_json:
        print_json([item.model_dump(mode="json") for item in items])
    else:
        print_table(headers, [row(item) for item in items])


def _done(as_json: bool, message: str, result: Any = None) -> None:
    if as_json and result is not None:
        print_json(result.model_dump(mode="json"))
    else:
        click.echo(message)


@click.group()
def users() -> None:
    """People and machine identities."""


@users.command("list")
@server_option
@json_option
def users_list(server: str | None, as_json: bool) -> None:
    result = call(server, ops.users_list())
    _show(
        result,
        as_json,
        ["name", "kind", "groups", "password", "created"],
        lambda u: [u.name, u.kind, u.groups, "yes" if u.has_password else "no", u.created],
    )


@users.command("add")
@click.argument("name")
@click.option("--machine", is_flag=True, help="A machine identity (access keys only).")
@click.option("--password", "ask", is_flag=True, help="Ask for a password (no echo).")
@server_option
@json_option
def users_add(name: str, machine: bool, ask: bool, server: str | None, as_json: bool) -> None:
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True) if ask else None
    result = call(
        server, ops.user_create(name, kind="machine" if machine else "user", password=password)
    )
    _done(as_json, f"added {result.kind} {result.name}", result)


@users.command("passwd")
@click.argument("name")
@click.option(
    "--revoke-keys", is_flag=True, help="Also revoke every access key of NAME (a compromise)."
)
@server_option
def users_passwd(name: str, revoke_keys: bool, server: str | None) -> None:
    """Set the password of NAME."""
    password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    call(server, ops.user_update(name, password=password, revoke_access_keys=revoke_keys))
    click.echo(f"password of {name} set" + ("; its access keys are revoked" if revoke_keys else ""))


@users.command("rename")
@click.argument("name")
@click.argument("new_name")
@server_option
def users_rename(name: str, new_name: str, server: str | None) -> None:
    """Rename NAME to NEW_NAME; its grants, groups and access keys go with it."""
    result = call(server, ops.user_update(name, new_name=new_name))
    click.echo(f"renamed {name} to {result.name}")


@users.command("remove")
@click.argument("name")
@server_option
def users_remove(name: str, server: str | None) -> None:
    call(server, ops.user_delete(name))
    click.echo(f"removed {name}")


@click.group()
def groups() -> None:
    """Groups and their members."""


@groups.command("list")
@server_option
@json_option
def groups_list(server: str | None, as_json: bool) -> None:
    result = call(server, ops.groups_list())
    _show(result, as_json, ["name", "members", "created"], lambda g: [g.name, g.members, g.created])


@groups.command("add")
@click.argument("name")
@server_option
@json_option
def groups_add(name: str, server: str | None, as_json: bool) -> None:
    _done(as_json, f"added group {name}", call(server, ops.group_create(name)))


@groups.command("remove")
@click.argument("name")
@server_option
def groups_remove(name: str, server: str | None) -> None:
    call(server, ops.group_delete(name))
    click.echo(f"removed group {name}")


@groups.command("add-member")
@click.argument("group")
@click.argument("member")
@server_option
def groups_add_member(group: str, member: str, server: str | None) -> None:
    call(server, ops.group_add_member(group, member))
    click.echo(f"added {member} to {group}")


@groups.command("remove-member")
@click.argument("group")
@click.argument("member")
@server_option
def groups_remove_member(group: str, member: str, server: str | None) -> None:
    call(server, ops.group_remove_member(group, member))
    click.echo(f"removed {member} from {group}")


@click.group()
def grants() -> None:
    """Grants: (subject, role, resource)."""


@grants.command("list")
@click.option("--destination", help="Only grants on this destination.")
@click.option("--subject", help="Only grants of user:NAME or group:NAME.")
@server_option
@json_option
def grants_list(
    destination: str | None, subject: str | None, server: str | None, as_json: bool
) -> None:
    result = call(server, ops.grants_list(destination=destination, subject=subject))
    _show(
        result,
        as_json,
        ["id", "subject", "role", "resource", "created"],
        lambda g: [g.id, g.subject, g.role, g.resource, g.created],
    )


@grants.command("add")
@click.argument("subject")
@click.argument("role")
@click.argument("resource")
@server_option
@json_option
def grants_add(subject: str, role: str, resource: str, server: str | None, as_json: bool) -> None:
    """Grant ROLE on RESOURCE (destination[.sub]) to SUBJECT (user:NAME or group:NAME)."""
    result = call(server, ops.grant_create(subject, role, resource))
    _done(as_json, f"granted {role} on {resource} to {subject} (id {result.id})", result)


@grants.command("remove")
@click.argument("grant_id")
@server_option
def grants_remove(grant_id: str, server: str | None) -> None:
    call(server, ops.grant_delete(grant_id))
    click.echo(f"removed grant {grant_id}")


@click.group()
def destinations() -> None:
    """Destinations that tokens are issued for."""


@destinations.command("list")
@server_option
@json_option
def destinations_list(server: str | None, as_json: bool) -> None:
    result = call(server, ops.destinations_list())
    _show(
        result,
        as_json,
        ["name", "kind", "lifetime", "groups", "created"],
        lambda d: [d.name, d.kind, d.lifetime, d.group_narrowing, d.created],
    )


_lifetime = click.option(
    "--lifetime", type=click.IntRange(60, 3600), help="Token lifetime in seconds."
)
_narrowing = click.option(
    "--groups", "narrowing", type=click.Choice(["all", "grants"]), help="Which groups tokens carry."
)


@destinations.command("add")
@click.argument("name")
@click.option("--kind", default="http", show_default=True)
@_lifetime
@_narrowing
@server_option
@json_option
def destinations_add(
    name: str,
    kind: str,
    lifetime: int | None,
    narrowing: str | None,
    server: str | None,
    as_json: bool,
) -> None:
    result = call(
        server,
        ops.destination_create(name, kind=kind, lifetime=lifetime, group_narrowing=narrowing),
    )
    _done(as_json, f"added destination {name}", result)


@destinations.command("update")
@click.argument("name")
@click.option("--kind")
@_lifetime
@_narrowing
@server_option
@json_option
def destinations_update(
    name: str,
    kind: str | None,
    lifetime: int | None,
    narrowing: str | None,
    server: str | None,
    as_json: bool,
) -> None:
    result = call(
        server,
        ops.destination_update(name, kind=kind, lifetime=lifetime, group_narrowing=narrowing),
    )
    _done(as_json, f"updated destination {name}", result)


@destinations.command("remove")
@click.argument("name")
@server_option
def destinations_remove(name: str, server: str | None) -> None:
    call(server, ops.destination_delete(name))
    click.echo(f"removed destination {name}")


@click.group("access-keys")
def access_keys() -> None:
    """Long-lived access keys (the secret is shown once, at creation)."""


@access_keys.command("list")
@click.option("--identity", help="Only the keys of this identity.")
@server_option
@json_option
def access_keys_list(identity: str | None, server: str | None, as_json: bool) -> None:
    result = call(server, ops.access_keys_list(identity=identity))
    _show(
        result,
        as_json,
        ["id", "identity", "name", "expires", "last used", "revoked", "made with"],
        lambda k: [k.id, k.identity, k.name, k.expires, k.last_used, k.revoked, k.parent],
    )


@access_keys.command("add")
@click.argument("identity")
@click.option("--name", default="key", show_default=True)
@click.option("--ttl", type=click.IntRange(0), help="Seconds until it expires (0: never).")
@click.option(
    "--inactivity", type=click.IntRange(0), help="Seconds of disuse before it expires (0: never)."
)
@server_option
@json_option
def access_keys_add(
    identity: str,
    name: str,
    ttl: int | None,
    inactivity: int | None,
    server: str | None,
    as_json: bool,
) -> None:
    """A new access key for IDENTITY; the secret is printed once, on stdout.

    A key for yourself is made from the key you are logged in with and never outlives it
    (expiry, inactivity, revocation). An admin's key for another identity stands alone.
    """
    result = call(
        server, ops.access_key_create(identity, name=name, ttl=ttl, inactivity_timeout=inactivity)
    )
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
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
    """Revoke the access key KEY_ID."""
    call(server, ops.access_key_revoke(key_id))
    click.echo(f"revoked access key {key_id}")


@click.group("signing-keys")
def signing_keys() -> None:
    """The authority's signing keys."""


def _show_keys(result: Any, as_json: bool) -> None:
    _show(
        result,
        as_json,
        ["kid", "alg", "state", "activates", "retires", "published until"],
        lambda k: [k.kid, k.alg, k.state, k.activates, k.retires, k.published_until],
    )


@signing_keys.command("list")
@server_option
@json_option
def signing_keys_list(server: str | None, as_json: bool) -> None:
    _show_keys(call(server, ops.signing_keys_list()), as_json)


@signing_keys.command("rotate")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@server_option
@json_option
def signing_keys_rotate(yes: bool, server: str | None, as_json: bool) -> None:
    """Emergency rotation: revoke the signing key now; its tokens stop verifying."""
    if not yes:
        click.confirm(
            "Revoke the current signing key now? Tokens it signed stop working", abort=True
        )
    _show_keys(call(server, ops.signing_keys_rotate()), as_json)


def _since(value: str | None) -> datetime | None:
    """``2026-01-01T00:00:00Z`` or a relative ``15m``/``2h``/``7d``."""
    if value is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(seconds=int(value[:-1]) * units[value[-1]])
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
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@server_option
@json_option
def audit(
    since: str | None,
    until: str | None,
    kind: str | None,
    actor: str | None,
    limit: int,
    server: str | None,
    as_json: bool,
) -> None:
    """The audit log, newest first."""
    request = ops.audit(
        since=_since(since), until=_since(until), kind=kind, actor=actor, limit=limit
    )
    result = call(server, request)
    _show(
        result,
        as_json,
        ["time", "kind", "actor", "target", "client", "detail"],
        lambda e: [e.time, e.kind, e.actor, e.target, e.client, e.detail],
    )
