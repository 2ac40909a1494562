"""``jot server``: run the authority; ``jot server migrate``: only update the schema.

The authority is imported by name when the command runs: the CLI package itself stays
independent of the server code (and of the ``server`` extra).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

__all__ = ["server"]


def _settings(ctx: click.Context) -> Any:
    from pydantic import ValidationError

    settings_module = importlib.import_module("jot.authority.settings")
    flags: dict[str, Any] = ctx.obj or {}
    try:
        return settings_module.load_settings(**flags)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise click.ClickException(f"bad setting {where}: {first['msg']}") from None
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


def _errors() -> tuple[type[Exception], ...]:
    rootkey = importlib.import_module("jot.authority.rootkey")
    bootstrap = importlib.import_module("jot.authority.bootstrap")
    sqlalchemy_exc = importlib.import_module("sqlalchemy.exc")
    return (
        rootkey.RootKeyError,
        bootstrap.BootstrapError,
        sqlalchemy_exc.OperationalError,
        OSError,
    )


@click.group(invoke_without_command=True)
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
@click.pass_context
def server(ctx: click.Context, /, **flags: Any) -> None:
    """Run the jot authority (migrates the database first)."""
    ctx.obj = flags
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(ctx)
    runner = importlib.import_module("jot.authority.server")
    try:
        runner.serve(settings)
    except _errors() as exc:
        raise click.ClickException(str(exc)) from None


@server.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Bring the database schema up to date, then exit."""
    settings = _settings(ctx.parent or ctx)
    runner = importlib.import_module("jot.authority.server")
    try:
        runner.migrate_only(settings)
    except _errors() as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("database schema is up to date")
