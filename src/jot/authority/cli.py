"""The command line of the authority: ``jot server``, ``jot server migrate`` and
``jot server rotate-root-key``.

``jot server`` (in :mod:`jot.cli.server`) hands the process over to ``python -m
jot.authority``, which runs this group; the CLI package itself never imports the server.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from jot._serving import ServingConfigError
from jot.authority import logs, maintenance
from jot.authority.bootstrap import BootstrapError, preflight
from jot.authority.rootkey import RootKeyError
from jot.authority.server import migrate_only, serve
from jot.authority.settings import Settings, config_file_in_use, load_settings

__all__ = ["main", "server"]


def _settings(ctx: click.Context) -> Any:
    from pydantic import ValidationError

    flags: dict[str, Any] = ctx.obj or {}
    try:
        return load_settings(**flags)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise click.ClickException(f"bad setting {where}: {first['msg']}") from None
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise click.ClickException(_toml_error(flags.get("config_file"), exc)) from None
    except (OSError, UnicodeError) as exc:
        config = flags.get("config_file") or config_file_in_use()
        raise click.ClickException(f"cannot read {config}: {exc}") from None


def _toml_error(given: Path | None, exc: tomllib.TOMLDecodeError) -> str:
    """``FILE:LINE:COL: what`` (the standard library says where only inside its message)."""
    where = given or config_file_in_use()
    message = str(exc)
    found = re.search(r" \(at line (\d+), column (\d+)\)$", message)
    if found is None:
        return f"{where}: {message}"
    return f"{where}:{found.group(1)}:{found.group(2)}: {message[: found.start()]}"


def _check_can_listen(settings: Settings) -> None:
    """Bind the address once, before a database or a key is made: a busy port is found
    first, not after the bootstrap key was printed for a server that never ran."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, settings.port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {settings.listen}: {exc.strerror or exc}"
            ) from None


_ERRORS = (
    RootKeyError, BootstrapError, maintenance.LockError, OperationalError, OSError,
    ServingConfigError,
)  # fmt: skip


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Default: $XDG_DATA_HOME/jot.",
)
@click.option("--listen", help="HOST:PORT (default 127.0.0.1:8080).")
@click.option("--issuer", help="The issuer URL (default: derived from --listen).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (default 1).")
@click.option(
    "--bootstrap-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Admin key to create on first start.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Default: info.",
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), help="json: one object per line."
)
@click.option("--access-log/--no-access-log", default=None, help="One log line per request (off).")
@click.pass_context
def server(ctx: click.Context, /, **flags: Any) -> None:
    """Run the jot authority (migrates the database first)."""
    ctx.obj = flags
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(ctx)
    if flags.get("config_file") is not None:
        # Worker processes build their settings from the environment they inherit.
        os.environ["JOT_CONFIG"] = str(flags["config_file"])
    logs.configure(settings)
    try:
        # Everything that can be checked is checked before anything is created.
        _check_can_listen(settings)
        preflight(settings)
        # Held for as long as this process serves (worker processes are its children).
        with maintenance.held(settings, exclusive=False):
            serve(settings)
    except _ERRORS as exc:
        raise click.ClickException(str(exc)) from None


@server.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Bring the database schema up to date, then exit."""
    settings = _settings(ctx.parent or ctx)
    try:
        migrate_only(settings)
    except _ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("database schema is up to date")


@server.command("rotate-root-key")
@click.argument("new_key_file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def rotate_root_key_command(ctx: click.Context, /, new_key_file: Path) -> None:
    """Re-encrypt every secret at rest under the root key in NEW_KEY_FILE.

    Stop every server first (the command refuses while one runs); then configure the new key
    (JOT_ROOT_KEY, root_key_file, or <data_dir>/root.key) and start them again.
    """
    from jot.authority.clock import system_clock, to_datetime
    from jot.authority.db import migrate, open_database
    from jot.authority.rekey import rotate_root_key
    from jot.authority.rootkey import load_root_key, read_root_key_file

    settings = _settings(ctx.parent or ctx)
    try:
        # Both keys first: a wrong --data-dir fails here, before any database is created.
        old, new = load_root_key(settings, create=False), read_root_key_file(new_key_file)
        with maintenance.held(settings, exclusive=True):
            db = open_database(settings)
            try:
                migrate(db)
                moved = rotate_root_key(db, old, new, to_datetime(system_clock()))
            finally:
                db.dispose()
    except _ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"re-encrypted {moved} secret{'' if moved == 1 else 's'} under the new root key; "
        f"configure {new_key_file} as the root key (JOT_ROOT_KEY, root_key_file or "
        "<data_dir>/root.key) before starting servers"
    )


@server.command("admin-key")
@click.option("--name", default="admin", show_default=True, help="The person to give the key.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Write the key to this file (mode 0600) instead of stdout.",
)
@click.pass_context
def admin_key_command(ctx: click.Context, /, name: str, out: str | None) -> None:
    """Make a new admin access key on the host (for a lost one); audited.

    Needs the database and its root key, so only the host's operator can run it; the data is
    kept, running servers accept the key at once, and it expires like the bootstrap key.
    """
    from jot.authority.clock import system_clock
    from jot.authority.db import migrate, open_database
    from jot.authority.recovery import recover_admin_key
    from jot.authority.rootkey import load_root_key

    settings = _settings(ctx.parent or ctx)
    database = settings.sqlite_file
    if database is not None and not database.exists():
        raise click.ClickException(f"no database at {database} (check --data-dir)")
    if out is not None and os.path.lexists(out):
        raise click.ClickException(f"{out} exists; choose another file")
    try:
        root = load_root_key(settings, create=False)
        db = open_database(settings)
        try:
            migrate(db)
            key = recover_admin_key(db, root, settings, system_clock, name)
        finally:
            db.dispose()
    except _ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    if out is None:
        click.echo(key)
        return
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    click.echo(f"a new admin access key for {name} is in {out} (mode 0600)")


def main() -> None:
    server.main(prog_name="jot server")
