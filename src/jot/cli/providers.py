"""``jot providers``: the upstream OpenID Connect providers people log in through.

The client secret is read from stdin (``--client-secret-stdin``) so that it never appears in
the process list or the shell history; the server never shows it again.
"""

from __future__ import annotations

import sys
from typing import Any, TypeVar

import click
from pydantic import SecretStr, ValidationError

from jot.api.providers import Provider, ProviderCreate, ProviderUpdate
from jot.cli._options import json_option, server_option, yes_option
from jot.cli._output import print_json, print_table, say
from jot.cli._remote import ask_first, call
from jot.client import oidc as ops

__all__ = ["providers"]

T = TypeVar("T")


def _secret(from_stdin: bool) -> SecretStr | None:
    if not from_stdin:
        return None
    value = sys.stdin.readline().strip()
    if not value:
        raise click.ClickException("--client-secret-stdin: stdin is empty")
    return SecretStr(value)


def _body(model: type[T], values: dict[str, Any]) -> T:
    try:
        return model(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise click.ClickException(f"{where}: {first['msg']}") from None


def _show_one(provider: Provider, as_json: bool, verb: str) -> None:
    if as_json:
        print_json(provider.model_dump(mode="json"))
        return
    say(f"{verb} provider {provider.name} ({provider.issuer})")
    say(f"register this redirect URI at the provider: {provider.redirect_uri}")


@click.group()
def providers() -> None:
    """OpenID Connect providers that people log in through."""


@providers.command("list")
@server_option
@json_option
def providers_list(server: str | None, as_json: bool) -> None:
    """List the providers and the redirect URI to register at each."""
    result = call(server, ops.providers_list())
    if as_json:
        print_json([item.model_dump(mode="json") for item in result.items])
        return
    print_table(
        ["name", "issuer", "client id", "secret", "domains", "redirect uri"],
        [
            [
                p.name,
                p.issuer,
                p.client_id,
                "set" if p.has_client_secret else "-",
                p.allowed_domains or "any",
                p.redirect_uri,
            ]
            for p in result.items
        ],
    )


@providers.command("show")
@click.argument("name")
@server_option
def providers_show(name: str, server: str | None) -> None:
    """Show one provider's settings (never its secret)."""
    print_json(call(server, ops.provider_get(name)).model_dump(mode="json"))


_options = [
    click.option(
        "--client-secret-stdin", "secret_stdin", is_flag=True, help="Read the secret from stdin."
    ),
    click.option("--scope", "scopes", multiple=True, help="A scope to ask for (repeatable)."),
    click.option("--email-claim", help="The claim that holds the e-mail address."),
    click.option("--name-claim", help="The claim that holds the display name."),
    click.option("--groups-claim", help="The claim that holds the groups."),
    click.option("--allowed-domain", "domains", multiple=True, help="Only these e-mail domains."),
    click.option("--revalidate-after", type=int, help="Seconds between refresh checks (7200)."),
    click.option(
        "--verifies-email/--no-verifies-email",
        default=None,
        help="The provider verifies every address: a login may take over the jot account "
        "of its address without email_verified: true (default: off).",
    ),
]


def _with_options(command: Any) -> Any:
    for option in reversed(_options):
        command = option(command)
    return command


@providers.command("add")
@click.argument("name")
@click.option("--issuer", required=True, help="The issuer URL (discovery is read from it).")
@click.option("--client-id", required=True, help="The client id registered at the provider.")
@_with_options
@server_option
@json_option
def providers_add(
    name: str,
    issuer: str,
    client_id: str,
    secret_stdin: bool,
    scopes: tuple[str, ...],
    domains: tuple[str, ...],
    server: str | None,
    as_json: bool,
    **claims: Any,
) -> None:
    """Add the provider NAME: people then log in with `jot login --provider NAME`."""
    body = _body(
        ProviderCreate,
        {
            "name": name,
            "issuer": issuer,
            "client_id": client_id,
            "client_secret": _secret(secret_stdin),
            "scopes": list(scopes) or None,
            "allowed_domains": list(domains) or None,
            **claims,
        },
    )
    _show_one(call(server, ops.provider_create(body)), as_json, "Added")


@providers.command("update")
@click.argument("name")
@click.option("--issuer", help="A new issuer URL.")
@click.option("--client-id", help="A new client id.")
@_with_options
@server_option
@json_option
def providers_update(
    name: str,
    issuer: str | None,
    client_id: str | None,
    secret_stdin: bool,
    scopes: tuple[str, ...],
    domains: tuple[str, ...],
    server: str | None,
    as_json: bool,
    **claims: Any,
) -> None:
    """Change the settings of the provider NAME (only the options given)."""
    body = _body(
        ProviderUpdate,
        {
            "issuer": issuer,
            "client_id": client_id,
            "client_secret": _secret(secret_stdin),
            "scopes": list(scopes) or None,
            "allowed_domains": list(domains) or None,
            **claims,
        },
    )
    _show_one(call(server, ops.provider_update(name, body)), as_json, "Updated")


@providers.command("remove")
@click.argument("name")
@yes_option
@server_option
def providers_remove(name: str, yes: bool, server: str | None) -> None:
    """Remove a provider; the access keys that came from it are revoked (asks first)."""
    consequence = "The access keys of the logins through it are revoked"
    ask_first(server, yes, ops.provider_get(name), f"remove the provider {name}", consequence)
    call(server, ops.provider_delete(name))
    click.echo(f"Removed provider {name}")
