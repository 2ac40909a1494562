"""Admin commands: ``jot users``, ``groups``, ``grants`` and ``destinations``. Each lists as
a table (``--json`` for scripts); a removal that takes other things with it asks first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from jot.api.claims import MAX_LIFETIME, MIN_LIFETIME
from jot.api.destinations import DestinationCreate
from jot.api.durations import spoken
from jot.api.identities import GroupCreate, IdentityCreate, fold_name
from jot.api.requests import MAX_GRANT_DURATION
from jot.api.session import GrantCreate
from jot.cli._duration import Duration
from jot.cli._openid_client import oidc_options, oidc_spec, show_oidc
from jot.cli._options import json_option, server_option, yes_option
from jot.cli._output import cell, print_items, print_json, print_table, say
from jot.cli._remote import ask_first, call, remove_by_id
from jot.cli._sealing import public_key_file
from jot.cli._secrets import (
    password_stdin_option,
    read_password,
)
from jot.cli._validate import checked
from jot.client import ops
from jot.destination.settings import ROLE_PREFIX

__all__ = ["destinations", "grants", "groups", "users"]

_GRANT_HEADERS = ["id", "subject", "role", "resource", "created", "expires"]


def _done(as_json: bool, message: str, result: Any = None) -> None:
    if as_json and result is not None:
        print_json(result.model_dump(mode="json"))
    else:
        say(message)


def _grant_row(grant: Any) -> list[Any]:
    return [grant.id, grant.subject, grant.role, grant.resource, grant.created, _ends(grant)]


def _ends(grant: Any) -> str:
    """When a time-bound grant lapses, and how long that is from now; ``-`` for none."""
    if grant.expires is None:
        return "-"
    left = (grant.expires - datetime.now(UTC)).total_seconds()
    if left >= 300:  # To the minute: the seconds of a long time left are noise.
        left = round(left / 60) * 60
    return f"{cell(grant.expires)} ({spoken(left)} left)" if left > 0 else cell(grant.expires)


def _until(value: str | None) -> datetime | None:
    """``--until``: an ISO 8601 time; without a zone, it is this machine's local time."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "use an ISO time such as 2026-01-15T18:00 (local) or 2026-01-15T17:00Z",
            param_hint="--until",
        ) from None
    return parsed if parsed.tzinfo else parsed.astimezone()


def _show_one(fields: dict[str, Any], grants: Any, as_json: bool) -> None:
    """One thing and its grants: ``field: value`` lines and a table, or one JSON object."""
    if as_json:
        print_json({**fields, "grants": [g.model_dump(mode="json") for g in grants.items]})
        return
    width = max(len(name) for name in fields) + 1
    for name, value in fields.items():
        click.echo(f"{name + ':':<{width}} {cell(value)}")
    click.echo("")
    if grants.items:
        print_table(_GRANT_HEADERS, [_grant_row(g) for g in grants.items])
    else:
        click.echo("no grants")


@click.group()
def users() -> None:
    """People and machine identities."""


@users.command("list")
@server_option
@json_option
def users_list(server: str | None, as_json: bool) -> None:
    """List every identity."""
    print_items(
        call(server, ops.users_list()),
        as_json,
        ["name", "kind", "groups", "password", "created"],
        lambda u: [u.name, u.kind, u.groups, "yes" if u.has_password else "no", u.created],
    )


@users.command("show")
@click.argument("name")
@server_option
@json_option
def users_show(name: str, server: str | None, as_json: bool) -> None:
    """Show one identity, its groups and its grants."""
    user = call(server, ops.user_get(name))
    grants_of = call(server, ops.grants_list(subject=f"user:{user.name}"))
    fields = user.model_dump(mode="json") if as_json else {
        "name": user.name, "id": user.id, "kind": user.kind, "groups": user.groups,
        "password": "yes" if user.has_password else "no", "created": user.created,
        "updated": user.updated,
    }  # fmt: skip
    _show_one(fields, grants_of, as_json)


@users.command("add")
@click.argument("name")
@click.option("--machine", is_flag=True, help="A machine identity (access keys only).")
@click.option("--password", "ask", is_flag=True, help="Ask for a password (no echo).")
@password_stdin_option
@server_option
@json_option
def users_add(
    name: str, machine: bool, ask: bool, password_stdin: bool, server: str | None, as_json: bool
) -> None:
    """Add a person (NAME is their e-mail) or, with --machine, a machine identity."""
    checked(IdentityCreate, name=name)
    password = None
    if ask or password_stdin:
        password = read_password(from_stdin=password_stdin, confirm=True, new=True)
    result = call(
        server, ops.user_create(name, kind="machine" if machine else "user", password=password)
    )
    _done(as_json, f"added {result.kind} {result.name}", result)


@users.command("passwd")
@click.argument("name")
@click.option(
    "--revoke-keys", is_flag=True, help="Also revoke every access key of NAME (a compromise)."
)
@password_stdin_option
@server_option
def users_passwd(name: str, revoke_keys: bool, password_stdin: bool, server: str | None) -> None:
    """Set the password of NAME."""
    password = read_password("New password", from_stdin=password_stdin, confirm=True, new=True)
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
@yes_option
@server_option
def users_remove(name: str, yes: bool, server: str | None) -> None:
    """Remove NAME with its grants and access keys (asks first)."""
    consequence = "Its grants and access keys go too"
    ask_first(server, yes, ops.user_get(name), f"remove {name}", consequence)
    call(server, ops.user_delete(name))
    click.echo(f"removed {name}")


@click.group()
def groups() -> None:
    """Groups and their members."""


@groups.command("list")
@server_option
@json_option
def groups_list(server: str | None, as_json: bool) -> None:
    """List every group with its members."""
    result = call(server, ops.groups_list())
    print_items(
        result, as_json, ["name", "members", "created"], lambda g: [g.name, g.members, g.created]
    )


@groups.command("add")
@click.argument("name")
@server_option
@json_option
def groups_add(name: str, server: str | None, as_json: bool) -> None:
    """Add a group."""
    checked(GroupCreate, name=name)
    _done(as_json, f"added group {name}", call(server, ops.group_create(name)))


@groups.command("remove")
@click.argument("name")
@yes_option
@server_option
def groups_remove(name: str, yes: bool, server: str | None) -> None:
    """Remove the group NAME and its grants; its members stay (asks first)."""
    consequence = "Its grants go too; its members stay"
    ask_first(server, yes, ops.group_get(name), f"remove the group {name}", consequence)
    call(server, ops.group_delete(name))
    click.echo(f"removed group {name}")


@groups.command("add-member")
@click.argument("group")
@click.argument("member")
@server_option
def groups_add_member(group: str, member: str, server: str | None) -> None:
    """Add the identity MEMBER to GROUP."""
    call(server, ops.group_add_member(group, member))
    click.echo(f"added {member} to {group}")


@groups.command("remove-member")
@click.argument("group")
@click.argument("member")
@server_option
def groups_remove_member(group: str, member: str, server: str | None) -> None:
    """Take the identity MEMBER out of GROUP."""
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
    """List grants (all, or of one destination or subject)."""
    result = call(server, ops.grants_list(destination=destination, subject=subject))
    print_items(result, as_json, _GRANT_HEADERS, _grant_row)


@grants.command("add")
@click.argument("subject")
@click.argument("role")
@click.argument("resource")
@click.option(
    "--for",
    "duration",
    type=Duration(1, MAX_GRANT_DURATION),
    help="Only for this long (2h, 30m, 7d).",
)
@click.option("--until", help="Only until this time (ISO 8601; local time without a zone).")
@server_option
@json_option
def grants_add(
    subject: str,
    role: str,
    resource: str,
    duration: int | None,
    until: str | None,
    server: str | None,
    as_json: bool,
) -> None:
    """Grant ROLE on RESOURCE (destination[.sub]) to SUBJECT (user:NAME or group:NAME), for
    good or, with --for or --until, for a while (it lapses by itself; an existing time-bound
    grant runs on to the later end)."""
    if duration is not None and until is not None:
        raise click.UsageError("give --for or --until, not both")
    checked(GrantCreate, subject=subject, role=role, resource=resource)
    result = call(
        server,
        ops.grant_create(subject, role, resource, duration=duration, expires=_until(until)),
    )
    ends = f" until {_ends(result)}" if result.expires else ""
    _done(as_json, f"granted {role} on {resource} to {subject} (id {result.id}){ends}", result)


@grants.command("check")
@click.argument("subject")
@click.argument("resource", metavar="DESTINATION[.SUB]")
@server_option
@json_option
def grants_check(subject: str, resource: str, server: str | None, as_json: bool) -> None:
    """Explain access: would DESTINATION accept SUBJECT (user:NAME or group:NAME) at
    DESTINATION[.SUB], with which roles, from which grants; and if not, why. The answer
    comes from the token endpoint's own decision."""
    found = call(server, ops.explain(subject, resource))
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    if found.token:
        groups = ", ".join(found.token_groups) or "none"
        click.echo(
            f"{found.subject} gets tokens for {found.destination} "
            f"(lifetime {found.lifetime} s, groups in them: {groups})"
            if found.subject.startswith("user:")
            else f"members of {found.subject[6:]} get tokens for {found.destination}"
        )
    else:
        click.echo(f"{found.subject} gets no token for {found.destination}: {found.reason}")
    roles = ", ".join(found.roles) or "none"
    click.echo(f"roles on {found.resource}: {roles}")
    rows = [[s.role, s.subject, s.resource, s.applies_text()] for s in found.sources]
    if rows:
        print_table(["role", "from", "on", f"applies to {found.resource}"], rows)


@grants.command("remove")
@click.argument("grant", nargs=-1, required=True, metavar="ID | SUBJECT ROLE RESOURCE")
@server_option
def grants_remove(grant: tuple[str, ...], server: str | None) -> None:
    """Remove a grant: by its id (or a unique start of it), or by what it grants."""
    if len(grant) == 3:
        subject, role, resource = grant
        checked(GrantCreate, subject=subject, role=role, resource=resource)
        found = [
            g
            for g in call(server, ops.grants_list(subject=subject)).items
            if fold_name(g.subject) == fold_name(subject)
            and (g.role, g.resource) == (role, resource)
        ]
        if not found:
            raise click.ClickException(f"{subject} has no grant of {role} on {resource}")
        grant_id = found[0].id
        call(server, ops.grant_delete(grant_id))
    elif len(grant) == 1:
        grant_id = remove_by_id(server, grant[0], ops.grant_delete, ops.grants_list(), "grant")
    else:
        raise click.UsageError("give a grant's ID, or its SUBJECT ROLE RESOURCE")
    click.echo(f"removed grant {grant_id}")


@click.group()
def destinations() -> None:
    """Destinations that tokens are issued for."""


@destinations.command("list")
@server_option
@json_option
def destinations_list(server: str | None, as_json: bool) -> None:
    """List every destination."""
    print_items(
        call(server, ops.destinations_list()),
        as_json,
        ["name", "kind", "lifetime", "groups", "created"],
        lambda d: [d.name, d.kind, d.lifetime, d.group_narrowing, d.created],
    )


@destinations.command("show")
@click.argument("name")
@server_option
@json_option
def destinations_show(name: str, server: str | None, as_json: bool) -> None:
    """Show one destination and the grants on it."""
    found = call(server, ops.destination_get(name))
    grants_on = call(server, ops.grants_list(destination=found.name))
    fields = found.model_dump(mode="json") if as_json else {
        "name": found.name, "id": found.id, "kind": found.kind,
        "lifetime": f"{found.lifetime} s", "groups": found.group_narrowing,
        "created": found.created, "updated": found.updated,
    }  # fmt: skip
    if found.oidc is not None and not as_json:
        fields["oidc client"] = found.oidc.auth_method
        fields["redirect uris"] = " ".join(found.oidc.redirect_uris)
    if not as_json:
        sealed = found.encryption_key
        fields["tokens"] = (
            f"sealed to {sealed.get('kid')} ({sealed.get('alg')})" if sealed else "signed only"
        )
        if found.cluster_server is not None:
            ca = " (own CA)" if found.cluster_ca else ""
            fields["cluster server"] = found.cluster_server + ca
    _show_one(fields, grants_on, as_json)


_lifetime = click.option(
    "--lifetime", type=Duration(MIN_LIFETIME, MAX_LIFETIME), help="Token lifetime (300, 5m, 1h)."
)
_narrowing = click.option(
    "--groups", "narrowing", type=click.Choice(["all", "grants"]), help="Which groups tokens carry."
)
_encryption = click.option(
    "--encryption-key",
    "encryption_key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A public key (JWK or PEM): tokens for NAME are then sealed to it (signed, then "
    "encrypted), and only NAME reads them.",
)


_cluster_server = click.option(
    "--cluster-server",
    metavar="URL",
    help="Kind kubernetes: the API server (or jot proxy) kubectl talks to; `jot kubeconfig` "
    "and the web console's kubeconfig download point there.",
)
_cluster_ca = click.option(
    "--cluster-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The PEM file of the CA that signed the --cluster-server's certificate.",
)


def _pem(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--cluster-ca") from None


@destinations.command("add")
@click.argument("name")
@click.option("--kind", default="http", show_default=True, help="What it is (http, kubernetes, …).")
@_lifetime
@_narrowing
@_encryption
@_cluster_server
@_cluster_ca
@oidc_options
@server_option
@json_option
def destinations_add(
    name: str,
    kind: str,
    lifetime: int | None,
    narrowing: str | None,
    encryption_key: Path | None,
    cluster_server: str | None,
    cluster_ca: Path | None,
    server: str | None,
    as_json: bool,
    **registration: Any,
) -> None:
    """Add a destination: a service that accepts jot tokens for NAME (with --redirect-uri, also
    an OpenID Connect client that signs people in through jot)."""
    pem = _pem(cluster_ca)
    checked(
        DestinationCreate, name=name, kind=kind, lifetime=lifetime,
        cluster_server=cluster_server, cluster_ca=pem,
    )  # fmt: skip
    oidc = oidc_spec(**registration)
    sealed = public_key_file(encryption_key) if encryption_key is not None else None
    result = call(
        server,
        ops.destination_create(
            name, kind=kind, lifetime=lifetime, group_narrowing=narrowing, oidc=oidc,
            encryption_key=sealed, cluster_server=cluster_server, cluster_ca=pem,
        ),
    )  # fmt: skip
    _done(as_json, f"added destination {name}", result)
    if not as_json:
        show_oidc(result.oidc)


@destinations.command("update")
@click.argument("name")
@click.option("--kind", help="A new kind.")
@_lifetime
@_narrowing
@oidc_options
@click.option("--new-client-secret", is_flag=True, help="Replace the OpenID client secret.")
@click.option("--remove-oidc", is_flag=True, help="NAME is no longer an OpenID client.")
@_encryption
@click.option(
    "--no-encryption-key", "unsealed", is_flag=True, help="Tokens for NAME are signed only again."
)
@_cluster_server
@_cluster_ca
@click.option("--no-cluster", is_flag=True, help="Forget the cluster server and CA.")
@server_option
@json_option
def destinations_update(
    name: str,
    kind: str | None,
    lifetime: int | None,
    narrowing: str | None,
    new_client_secret: bool,
    remove_oidc: bool,
    encryption_key: Path | None,
    unsealed: bool,
    cluster_server: str | None,
    cluster_ca: Path | None,
    no_cluster: bool,
    server: str | None,
    as_json: bool,
    **registration: Any,
) -> None:
    """Change the kind, token lifetime, group narrowing, OpenID registration, encryption key
    or cluster server of NAME (--redirect-uri replaces every registered redirect URI)."""
    if encryption_key is not None and unsealed:
        raise click.UsageError("give --encryption-key or --no-encryption-key, not both")
    if encryption_key is not None or unsealed:
        sealed = None if unsealed else public_key_file(encryption_key)  # type: ignore[arg-type]
        call(server, ops.destination_encryption_key(name, sealed))
    result = call(
        server,
        ops.destination_update(
            name, kind=kind, lifetime=lifetime, group_narrowing=narrowing,
            oidc=oidc_spec(**registration), new_client_secret=new_client_secret or None,
            remove_oidc=remove_oidc or None, cluster_server=cluster_server,
            cluster_ca=_pem(cluster_ca), remove_cluster=no_cluster or None,
        ),
    )  # fmt: skip
    _done(as_json, f"updated destination {name}", result)
    if not as_json:
        show_oidc(result.oidc)


@destinations.command("rbac")
@click.argument("name")
@click.option(
    "--role-prefix",
    default=ROLE_PREFIX,
    show_default=True,
    help="The connector's --role-prefix: roles reach Kubernetes as groups with it.",
)
@click.option(
    "--cluster-role",
    "mapped",
    multiple=True,
    metavar="ROLE=CLUSTERROLE",
    help="Bind ROLE to this ClusterRole (default: the ClusterRole named like the role).",
)
@server_option
def destinations_rbac(
    name: str, role_prefix: str, mapped: tuple[str, ...], server: str | None
) -> None:
    """Print the Kubernetes RBAC bindings for NAME's grants (for kubectl apply -f -):
    cluster-wide roles by ClusterRoleBinding, namespace roles (grants on NAME.NAMESPACE) by a
    RoleBinding in that namespace."""
    import yaml

    from jot.api.rbac import bindings

    cluster_roles = {}
    for item in mapped:
        role, sep, cluster_role = item.partition("=")
        if not sep or not role or not cluster_role:
            raise click.BadParameter(
                f"{item!r} is not ROLE=CLUSTERROLE", param_hint="--cluster-role"
            )
        cluster_roles[role] = cluster_role
    listed = call(server, ops.grants_list(destination=name)).items
    docs = bindings(
        name, [(g.role, g.resource) for g in listed], role_prefix=role_prefix,
        cluster_roles=cluster_roles,
    )  # fmt: skip
    if not docs:
        raise click.ClickException(f"no grants on {name!r}: nothing to bind")
    click.echo(yaml.safe_dump_all(docs, sort_keys=False).rstrip("\n"))


@destinations.command("remove")
@click.argument("name")
@yes_option
@server_option
def destinations_remove(name: str, yes: bool, server: str | None) -> None:
    """Remove NAME: no more tokens are issued for it (asks first)."""
    consequence = "No more tokens are issued for it"
    ask_first(server, yes, ops.destination_get(name), f"remove the destination {name}", consequence)
    call(server, ops.destination_delete(name))
    click.echo(f"removed destination {name}")
