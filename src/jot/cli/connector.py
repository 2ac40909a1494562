"""``jot connector …``: run a destination-side service (Infra's name for it).

* ``forward-auth``: the decision service for nginx ``auth_request`` / Traefik / Caddy.
* ``proxy``: a TLS reverse proxy that verifies jot tokens; ``--kubernetes`` impersonates.
* ``webhook``: Kubernetes webhook token authentication (``TokenReview``).

Each prints ``listening on URL`` once its socket is bound (``--port 0`` picks a free port).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["connector"]

F = TypeVar("F", bound=Callable[..., Any])


def _verifier_options(func: F) -> F:
    options = [
        click.option(
            "--issuer",
            envvar="JOT_ISSUER",
            help="The authority's URL (https, or http to loopback).",
        ),
        click.option(
            "--name",
            "audience",
            required=True,
            envvar="JOT_DESTINATION",
            help="This destination's name: the required token audience.",
        ),
        click.option(
            "--access-key-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="File with the machine access key for reading grants (or set JOT_ACCESS_KEY).",
        ),
        click.option(
            "--grants-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="TOML/YAML grants, instead of the authority's.",
        ),
        click.option(
            "--jwks-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="A static JWKS, instead of the authority's.",
        ),
        click.option(
            "--leeway",
            type=click.IntRange(0, 600),
            default=60,
            show_default=True,
            help="Allowed clock skew, seconds.",
        ),
        click.option(
            "--cache-size",
            type=click.IntRange(0),
            default=10_000,
            show_default=True,
            help="Verified tokens remembered; 0 turns the cache off.",
        ),
        click.option(
            "--keep-system-groups",
            is_flag=True,
            help="Keep 'system:' groups from tokens (dropped by default).",
        ),
        click.option(
            "--allow-no-role", is_flag=True, help="Accept valid tokens that have no role here."
        ),
        click.option("--host", default="127.0.0.1", show_default=True),
        click.option("--port", type=click.IntRange(0, 65535), default=8081, show_default=True),
        click.option(
            "--log-level",
            type=click.Choice(["debug", "info", "warning", "error"]),
            default="warning",
            show_default=True,
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _access_key(path: Path | None) -> str | None:
    if path is None:
        return os.environ.get("JOT_ACCESS_KEY") or None
    try:
        return path.read_text().strip() or None
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--access-key-file"
        ) from None


def build_verifier(opts: dict[str, Any]) -> Any:
    """An :class:`AsyncVerifier` from the common options; user mistakes become one line."""
    from jot.destination.grants import FileGrants
    from jot.destination.verifier import AsyncVerifier

    issuer, jwks_file, grants_file = opts["issuer"], opts["jwks_file"], opts["grants_file"]
    if issuer is None and jwks_file is None:
        raise click.UsageError("give --issuer (the authority) or --jwks-file")
    try:
        jwks = json.loads(jwks_file.read_text()) if jwks_file else None
        grants = FileGrants(grants_file) if grants_file else None
        return AsyncVerifier(
            issuer, audience=opts["audience"], jwks=jwks, grants=grants,
            access_key=_access_key(opts["access_key_file"]), leeway=opts["leeway"],
            cache_size=opts["cache_size"], keep_system_groups=opts["keep_system_groups"],
        )  # fmt: skip
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc).splitlines()[0]) from None
    except Exception as exc:  # A JOSE error in a static JWKS file, say: one line, no traceback.
        raise click.UsageError(f"{type(exc).__name__}: {exc}") from None


def _configure_logging(level: str) -> None:
    import logging

    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )


@click.group()
def connector() -> None:
    """Run a destination-side service that verifies jot tokens."""


@connector.command("forward-auth")
@_verifier_options
def forward_auth(**opts: Any) -> None:
    """Answer nginx auth_request / Traefik / Caddy forward-auth with X-Jot-* headers."""
    from jot.destination.forward_auth import ForwardAuth
    from jot.destination.serve import serve

    _configure_logging(opts["log_level"])
    app = ForwardAuth(build_verifier(opts), require_grant=not opts["allow_no_role"])
    _run(lambda: serve(app, host=opts["host"], port=opts["port"], log_level=opts["log_level"]))


def _run(start: Callable[[], None]) -> None:
    try:
        start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc.strerror or exc}") from None
