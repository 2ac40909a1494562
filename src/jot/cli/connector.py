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


def _tls_options(func: F) -> F:
    options = [
        click.option(
            "--tls-cert",
            type=click.Path(exists=True, dir_okay=False),
            help="Server certificate (PEM); without it a self-signed one is generated.",
        ),
        click.option("--tls-key", type=click.Path(exists=True, dir_okay=False)),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _server_tls(opts: dict[str, Any]) -> tuple[str, str]:
    from jot.destination.tls import write_self_signed

    cert, key = opts["tls_cert"], opts["tls_key"]
    if (cert is None) != (key is None):
        raise click.UsageError("give both --tls-cert and --tls-key, or neither")
    if cert is not None:
        return cert, key
    cert_path, key_path = write_self_signed([opts["host"], "localhost"])
    click.echo(f"self-signed certificate: {cert_path}", err=True)
    return str(cert_path), str(key_path)


@connector.command("webhook")
@_verifier_options
@_tls_options
@click.option("--group-prefix", default="", help="Prefix for the token's groups.")
@click.option(
    "--role-prefix",
    default="jot:role:",
    show_default=True,
    help="Roles granted here are added as groups with this prefix; '' turns that off.",
)
def webhook(**opts: Any) -> None:
    """Answer Kubernetes TokenReview requests (webhook token authentication)."""
    from jot.destination.serve import serve
    from jot.destination.webhook import TokenReviewApp

    _configure_logging(opts["log_level"])
    app = TokenReviewApp(
        build_verifier(opts),
        group_prefix=opts["group_prefix"],
        role_prefix=opts["role_prefix"] or None,
        require_grant=not opts["allow_no_role"],
    )
    cert, key = _server_tls(opts)
    _run(
        lambda: serve(
            app,
            host=opts["host"],
            port=opts["port"],
            certfile=cert,
            keyfile=key,
            log_level=opts["log_level"],
        )
    )


@connector.command("proxy")
@_verifier_options
@_tls_options
@click.option("--upstream", required=True, help="URL of the service behind the proxy.")
@click.option("--kubernetes", is_flag=True, help="Impersonate the caller (upstream: API server).")
@click.option("--group-prefix", default="", help="Prefix for impersonated groups.")
@click.option(
    "--role-prefix",
    default="jot:role:",
    show_default=True,
    help="Kubernetes mode: roles granted here become groups with this prefix; '' turns off.",
)
@click.option(
    "--upstream-token-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Bearer token for the upstream, re-read when the file changes.",
)
@click.option("--upstream-ca", type=click.Path(exists=True, dir_okay=False))
@click.option("--upstream-client-cert", type=click.Path(exists=True, dir_okay=False))
@click.option("--upstream-client-key", type=click.Path(exists=True, dir_okay=False))
@click.option("--upstream-insecure", is_flag=True, help="Do not verify the upstream's TLS.")
@click.option(
    "--strip-header",
    multiple=True,
    metavar="NAME",
    help="Also remove this request header (repeatable; 'X-Internal-*' for a prefix).",
)
@click.option(
    "--allow-upgrade",
    multiple=True,
    metavar="PROTOCOL",
    help="Also allow this Upgrade protocol (repeatable; websocket and SPDY/3.1 always are).",
)
def proxy(**opts: Any) -> None:
    """A TLS reverse proxy that verifies jot tokens (and impersonates, for Kubernetes)."""
    import asyncio

    from jot.destination.proxy import CredentialFile, Proxy
    from jot.destination.proxy_headers import HeaderRules, IdentityHeaders
    from jot.destination.serve import bind
    from jot.destination.tls import client_context, server_context

    _configure_logging(opts["log_level"])
    verifier = build_verifier(opts)
    try:
        upstream_tls = client_context(
            opts["upstream_ca"], opts["upstream_client_cert"], opts["upstream_client_key"],
            verify=not opts["upstream_insecure"],
        )  # fmt: skip
        credential = (
            CredentialFile(opts["upstream_token_file"]) if opts["upstream_token_file"] else None
        )
        rendering = IdentityHeaders(
            kubernetes=opts["kubernetes"], group_prefix=opts["group_prefix"],
            role_prefix=opts["role_prefix"] or None,
        )  # fmt: skip
        rules = HeaderRules.of(opts["strip_header"], opts["allow_upgrade"])
        app = Proxy(
            verifier, opts["upstream"], rendering=rendering, upstream_tls=upstream_tls,
            credential=credential, require_grant=not opts["allow_no_role"], rules=rules,
        )  # fmt: skip
        cert, key = _server_tls(opts)
        tls = server_context(cert, key)
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc).splitlines()[0]) from None

    def start() -> None:
        sock = bind(opts["host"], opts["port"])
        shown = f"[{opts['host']}]" if ":" in opts["host"] else opts["host"]
        click.echo(f"listening on https://{shown}:{sock.getsockname()[1]}")
        asyncio.run(app.serve(sock, tls))

    _run(start)
