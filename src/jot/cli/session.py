"""``jot login``, ``logout``, ``whoami``, ``token`` and ``kubeconfig``.

Only the standard library and click are imported at module level: a cached ``jot token``
must not pay for httpx or pydantic. The client is imported when the network is needed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from jot.cli import _credentials as creds

if TYPE_CHECKING:
    from jot.client import Client

__all__ = ["kubeconfig", "login", "logout", "passwd", "token", "whoami"]


def _client(server: str, access_key: str | None = None) -> Client:
    from jot.client import Client

    return Client(server, access_key)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _need(server: str | None) -> tuple[str, str]:
    found = creds.resolve(server)
    if found is None:
        where = f" to {server}" if server else ""
        raise click.ClickException(f"not logged in{where}; run `jot login SERVER` first")
    return found


@click.command()
@click.argument("server", required=False)
@click.option("--name", help="Your name (e-mail); asked for when not given.")
@click.option("--key-stdin", is_flag=True, help="Read an access key from stdin instead.")
@click.option("--provider", help="Log in through this OIDC provider of the server.")
@click.option("--device", is_flag=True, help="Log in on another device: print a code and a URL.")
@click.option("--no-browser", is_flag=True, help="With --provider: print the URL, do not open it.")
def login(
    server: str | None,
    name: str | None,
    key_stdin: bool,
    provider: str | None = None,
    device: bool = False,
    no_browser: bool = False,
) -> None:
    """Log in to SERVER (default: the current one) and remember the credential."""
    from jot.client import ClientError
    from jot.client._core import normalise_server

    server = normalise_server(server or creds.load().get("current") or "")
    if server in ("https://", "http://"):
        raise click.ClickException("which server? run `jot login SERVER`")
    client = _client(server)
    try:
        if provider or device:
            from jot.cli._oidc import provider_login

            credential = provider_login(client, provider, device=device, browser=not no_browser)
        elif key_stdin:
            client.access_key = sys.stdin.readline().strip()
            me = client.whoami()
            credential = {"access_key": client.access_key, "name": me.name, "expires": None}
        else:
            name = name or click.prompt("Name")
            password = click.prompt("Password", hide_input=True)
            result = client.login(str(name), password)
            expires = result.expires.isoformat() if result.expires else None
            credential = {
                "access_key": result.access_key,
                "name": result.identity,
                "expires": expires,
            }
    except ClientError as exc:
        raise _fail(exc) from None
    finally:
        client.close()
    creds.remember(server, credential)
    click.echo(f"Logged in to {server} as {credential['name']}")


@click.command()
@click.argument("server", required=False)
def logout(server: str | None) -> None:
    """Revoke the access key at SERVER (default: the current one) and forget it."""
    from jot.client import ClientError

    found = _need(server)
    with _client(*found) as client:
        try:
            client.logout()
        except ClientError as exc:
            click.echo(f"warning: the server did not revoke the key: {exc}", err=True)
    creds.forget(found[0])
    click.echo(f"Logged out of {found[0]}")


@click.command()
@click.option("--server", help="Which server (default: the current one).")
@click.option(
    "--revoke-other-keys/--keep-other-keys",
    default=None,
    help="Also revoke every other access key of yours (other logins, keys made from them); "
    "asked on a terminal, kept otherwise.",
)
def passwd(server: str | None, revoke_other_keys: bool | None) -> None:
    """Change your own password (asks for the current one, then the new one twice)."""
    from jot.client import ClientError

    found = _need(server)
    current = click.prompt("Current password", hide_input=True)
    new = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    if len(new) < 8:
        raise click.ClickException("the new password must have at least 8 characters")
    if revoke_other_keys is None:
        # A changed password often means a leaked one: offer to end what it let someone make.
        revoke_other_keys = sys.stdin.isatty() and click.confirm(
            "Also revoke your other access keys (other logins and keys made from them)?"
        )
    with _client(*found) as client:
        try:
            client.change_password(current, new, revoke_other_keys=revoke_other_keys)
        except ClientError as exc:
            raise _fail(exc) from None
    click.echo(
        "Password changed" + ("; your other access keys are revoked" if revoke_other_keys else "")
    )


@click.command()
@click.option("--server", help="Which server (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def whoami(server: str | None, as_json: bool) -> None:
    """Show who the stored credential belongs to."""
    from jot.client import ClientError

    found = _need(server)
    with _client(*found) as client:
        try:
            me = client.whoami()
        except ClientError as exc:
            raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps({"server": found[0], **me.model_dump()}, indent=2))
        return
    click.echo(f"{me.name} ({me.kind}) at {found[0]}")
    click.echo(f"groups: {', '.join(me.groups) or '-'}")
    click.echo(f"roles on jot: {', '.join(me.roles) or '-'}")


@click.command()
@click.option("--for", "destination", required=True, help="The destination (audience).")
@click.option("--format", "fmt", type=click.Choice(creds.FORMATS), default="raw", show_default=True)
@click.option("--server", help="Which server (default: the current one).")
@click.option("--refresh", is_flag=True, help="Ignore the cache and ask for a new token.")
def token(destination: str, fmt: str, server: str | None, refresh: bool) -> None:
    """Print a short-lived token for a destination (cached until shortly before expiry)."""
    found = _need(server)
    entry = None if refresh else creds.cached_token(*found, destination)
    if entry is None:
        entry = _fetch(found, destination)
    click.echo(creds.render_token(entry, fmt))


def _fetch(found: tuple[str, str], destination: str) -> dict[str, Any]:
    from jot.client import ClientError

    with _client(*found) as client:
        try:
            result = client.token(destination)
        except ClientError as exc:
            raise _fail(exc) from None
    return creds.store_token(*found, destination, result.token, result.expires.timestamp())


@click.command()
@click.argument("destination")
@click.option("--server", "cluster_url", required=True, help="The Kubernetes API server URL.")
@click.option("--certificate-authority", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--kubeconfig",
    "path",
    type=click.Path(dir_okay=False),
    help="Default: $KUBECONFIG or ~/.kube/config.",
)
@click.option("--authority", help="The jot server (default: the current one).")
def kubeconfig(
    destination: str,
    cluster_url: str,
    certificate_authority: str | None,
    path: str | None,
    authority: str | None,
) -> None:
    """Add a kubectl context for DESTINATION that gets its tokens from `jot token`."""
    import yaml

    found = _need(authority)
    target = Path(
        path
        or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        or Path.home() / ".kube" / "config"
    )
    try:
        config = yaml.safe_load(target.read_text()) if target.exists() else None
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{target} is not valid YAML: {exc}") from None
    config = _merge(config or {}, destination, cluster_url, certificate_authority, found[0])
    _write_kubeconfig(target, config)
    click.echo(
        f"Added context jot-{destination} to {target}; "
        f"try: kubectl --context jot-{destination} get pods"
    )


def _write_kubeconfig(target: Path, config: dict[str, Any]) -> None:
    """Replace the file atomically; a new file is private (0600), an existing one keeps its
    mode."""
    import yaml

    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o600
    temporary = target.with_name(f".{target.name}.jot-{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    os.chmod(temporary, mode)
    os.replace(temporary, target)


def _merge(
    config: dict[str, Any], dest: str, url: str, ca: str | None, server: str
) -> dict[str, Any]:
    name = f"jot-{dest}"
    cluster: dict[str, Any] = {"server": url}
    if ca:
        cluster["certificate-authority"] = str(Path(ca).resolve())
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "jot",
            "args": ["token", "--for", dest, "--format", "exec-credential", "--server", server],
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }
    config.setdefault("apiVersion", "v1")
    config.setdefault("kind", "Config")
    for section, entry in (
        ("clusters", {"name": name, "cluster": cluster}),
        ("users", {"name": name, "user": user}),
        ("contexts", {"name": name, "context": {"cluster": name, "user": name}}),
    ):
        items = [item for item in config.get(section) or [] if item.get("name") != name]
        config[section] = [*items, entry]
    config["current-context"] = name
    return config
