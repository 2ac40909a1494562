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
from jot.cli._options import deprecated, json_option, server_option
from jot.cli._output import printable, say
from jot.cli._sealing import sealed_note
from jot.cli._secrets import password_stdin_option, read_key, read_password

if TYPE_CHECKING:
    from jot.client import Client

__all__ = ["kubeconfig", "login", "logout", "passwd", "token", "whoami"]


def _client(server: str, access_key: str | None = None) -> Client:
    from jot.client import Client

    return Client(server, access_key)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(printable(str(exc)))


def _need(server: str | None) -> tuple[str, str]:
    found = creds.resolve(server)
    if found is None:
        where = f" to {server}" if server else ""
        raise click.ClickException(f"not logged in{where}; run `jot login SERVER` first")
    return found


def _server_flag(func: Any) -> Any:
    return click.option(
        "--server", "server_flag", metavar="URL", help="The same as SERVER (either one)."
    )(func)


def _one_server(argument: str | None, flag: str | None) -> str | None:
    if argument is not None and flag is not None and argument != flag:
        raise click.UsageError("give the server once: as SERVER or with --server")
    return argument or flag


@click.command()
@click.argument("server", required=False)
@_server_flag
@click.option("--name", help="Your name (e-mail); asked for when not given.")
@click.option(
    "--key-stdin", is_flag=True, help="Read an access key from stdin (asked for on a terminal)."
)
@password_stdin_option
@click.option("--provider", help="Log in through this OIDC provider of the server.")
@click.option("--device", is_flag=True, help="Log in on another device: print a code and a URL.")
@click.option("--no-browser", is_flag=True, help="With --provider: print the URL, do not open it.")
def login(
    server: str | None,
    server_flag: str | None,
    name: str | None,
    key_stdin: bool,
    password_stdin: bool = False,
    provider: str | None = None,
    device: bool = False,
    no_browser: bool = False,
) -> None:
    """Log in to SERVER (default: $JOT_SERVER, else the current one) and remember the
    credential."""
    from jot._urls import normalise_server
    from jot.client import ClientError

    stored = creds.load()
    # Read first: a damaged credentials file stops the login before the server is asked.
    server = _one_server(server, server_flag) or os.environ.get("JOT_SERVER")
    server = normalise_server(server or stored.get("current") or "")
    if not server:
        raise click.ClickException("which server? run `jot login SERVER`")
    client = _client(server)
    try:
        if provider or device:
            from jot.cli._oidc import provider_login

            credential = provider_login(client, provider, device=device, browser=not no_browser)
        elif key_stdin:
            client.access_key = read_key()
            me = client.whoami()
            credential = {"access_key": client.access_key, "name": me.name, "expires": None}
        else:
            if password_stdin and not name:
                raise click.ClickException("give --name with --password-stdin")
            name = name or click.prompt("Name")
            password = read_password(from_stdin=password_stdin)
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
    say(f"Logged in to {server} as {credential['name']}")


@click.command()
@click.argument("server", required=False)
@_server_flag
def logout(server: str | None, server_flag: str | None) -> None:
    """Revoke the access key at SERVER (default: the current one) and forget it."""
    from jot.client import ClientError

    found = _need(_one_server(server, server_flag))
    with _client(*found) as client:
        try:
            client.logout()
        except ClientError as exc:
            click.echo(f"warning: the server did not revoke the key: {exc}", err=True)
    creds.forget(found[0])
    click.echo(f"Logged out of {found[0]}")


@click.command()
@server_option
@click.option(
    "--revoke-other-keys/--keep-other-keys",
    default=None,
    help="Also revoke every other access key of yours (other logins, keys made from them); "
    "asked on a terminal, kept otherwise.",
)
@password_stdin_option
def passwd(server: str | None, revoke_other_keys: bool | None, password_stdin: bool) -> None:
    """Change your own password (asks for the current one, then the new one twice).

    With --password-stdin, the first line of stdin is the current password, the second the
    new one."""
    from jot.client import ClientError

    found = _need(server)
    current = read_password("Current password", from_stdin=password_stdin)
    new = read_password("New password", from_stdin=password_stdin, confirm=True, new=True)
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
@server_option
@json_option
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
    say(f"{me.name} ({me.kind}) at {found[0]}")
    say(f"groups: {', '.join(me.groups) or '-'}")
    say(f"roles on jot: {', '.join(me.roles) or '-'}")


@click.command()
@click.option("--for", "destination", required=True, help="The destination (audience).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(creds.FORMATS),
    default="raw",
    show_default=True,
    help="exec-credential: for kubectl.",
)
@server_option
@click.option("--refresh", is_flag=True, help="Ignore the cache and ask for a new token.")
def token(destination: str, fmt: str, server: str | None, refresh: bool) -> None:
    """Print a short-lived token for a destination (cached until shortly before expiry)."""
    found = _need(server)
    entry = None if refresh else creds.cached_token(*found, destination)
    if entry is None:
        entry = _fetch(found, destination)
    rendered = creds.render_token(entry, fmt)
    note = sealed_note(rendered, destination) if fmt == "raw" else None
    if note is not None:
        click.echo(note, err=True)  # Beside the token (stdout), for whoever looks at it.
    click.echo(rendered)


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
@click.option(
    "--cluster-server",
    metavar="URL",
    help="The Kubernetes API server (or the jot proxy in front of it) kubectl talks to "
    "(default: the one the destination names, `jot destinations add --cluster-server`).",
)
@click.option(
    "--certificate-authority",
    type=click.Path(exists=True, dir_okay=False),
    help="The CA file that signed the cluster server's certificate.",
)
@click.option(
    "--kubeconfig",
    "path",
    type=click.Path(dir_okay=False),
    help="The kubeconfig to change (default: $KUBECONFIG or ~/.kube/config).",
)
@server_option
@click.option("--authority", hidden=True)  # Deprecated spelling of --server.
@click.option(
    "--switch/--no-switch",
    default=None,
    help="Make the new context kubectl's current one (default: only when there is none).",
)
def kubeconfig(
    destination: str,
    cluster_server: str | None,
    certificate_authority: str | None,
    path: str | None,
    server: str | None,
    authority: str | None,
    switch: bool | None,
) -> None:
    """Add a kubectl context for DESTINATION that gets its tokens from `jot token`."""
    import yaml

    cluster_server, server = _kubeconfig_servers(cluster_server, server, authority)
    found = _need(server)
    cluster = _cluster(found, destination, cluster_server, certificate_authority)
    target = Path(
        path
        or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        or Path.home() / ".kube" / "config"
    )
    try:
        config = yaml.safe_load(target.read_text()) if target.exists() else None
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{target} is not valid YAML: {exc}") from None
    config = config or {}
    previous = config.get("current-context") or None
    command = _jot_command()
    config = _merge(config, destination, cluster, found[0], command)
    name = f"jot-{destination}"
    if switch or (switch is None and previous is None):
        config["current-context"] = name
    _write_kubeconfig(target, config)
    click.echo(f"Added context {name} to {target} (its user runs {command} token)")
    _say_context(name, previous, config.get("current-context"))


def _kubeconfig_servers(
    cluster: str | None, server: str | None, authority: str | None
) -> tuple[str | None, str | None]:
    """``(Kubernetes API server, jot server)`` from the options, old spellings included:
    ``--authority`` for the jot server, and ``--server`` for the API server when
    ``--cluster-server`` is not given (the command's options before 0.2)."""
    if cluster is None and server is not None:
        deprecated(
            "--server for the Kubernetes API server",
            "use --cluster-server URL; --server names the jot server, as in every command",
        )
        cluster, server = server, None
    if authority is not None:
        deprecated("--authority", "use --server URL")
        if server is not None and server != authority:
            raise click.UsageError("give the jot server once, with --server")
        server = authority
    return cluster, server


def _cluster(
    found: tuple[str, str], destination: str, url: str | None, ca: str | None
) -> dict[str, Any]:
    """The kubeconfig ``cluster``: the options', else the one the destination names."""
    from jot.client import ClientError, ops

    if url is None:
        with _client(*found) as client:
            try:
                named = client.call(ops.cluster(destination))
            except ClientError as exc:
                raise click.ClickException(
                    f"{printable(str(exc))}; give --cluster-server URL (the Kubernetes API server)"
                ) from None
        if ca is None:
            return named.entry()
        url = named.server
    cluster: dict[str, Any] = {"server": url}
    if ca:
        cluster["certificate-authority"] = str(Path(ca).resolve())
    return cluster


def _jot_command() -> str:
    """The absolute path of the running ``jot``: kubectl runs it with its own ``PATH``, which
    may not hold this virtual environment's ``bin``."""
    import shutil

    running = sys.argv[0]
    if Path(running).name == "jot" and os.access(running, os.X_OK):
        return os.path.abspath(running)
    found = shutil.which("jot")
    if found is not None:
        return os.path.abspath(found)
    click.echo(
        "warning: no jot on PATH: the context runs `jot`, which kubectl will not find until "
        "it is on PATH",
        err=True,
    )
    return "jot"


def _say_context(name: str, previous: str | None, current: str | None) -> None:
    if current != name:
        click.echo(
            f"kubectl's current context stays {previous}; use this one with "
            f"`kubectl --context {name} get pods`, or make it current with "
            f"`kubectl config use-context {name}`"
        )
    elif previous in (None, name):
        click.echo(f"kubectl's current context is {name}; try: kubectl get pods")
    else:
        click.echo(
            f"kubectl's current context is now {name} (it was {previous}: "
            f"`kubectl config use-context {previous}` goes back)"
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
    config: dict[str, Any], dest: str, cluster: dict[str, Any], server: str, command: str
) -> dict[str, Any]:
    from jot.api.kubeconfig import entries, merge

    return merge(config, entries(dest, cluster, server, command))
