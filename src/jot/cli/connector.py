"""``jot connector …``: run a destination-side service (Infra's name for it).

* ``forward-auth``: the decision service for nginx ``auth_request`` / Traefik / Caddy.
* ``proxy``: a TLS reverse proxy that verifies jot tokens; ``--kubernetes`` impersonates.
* ``webhook``: Kubernetes webhook token authentication (``TokenReview``).

Each prints ``listening on URL`` once its socket is bound (``--listen 127.0.0.1:0`` picks a
free port). Their default addresses differ (:data:`DEFAULT_LISTEN`), so that the three can
run side by side.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from jot.api.claims import MAX_LEEWAY
from jot.cli._browser import browser_options, build_browser
from jot.cli._duration import Duration
from jot.cli._options import deprecated
from jot.destination.settings import (
    CACHE_SIZE,
    MAX_CLOCK_SKEW,
    ROLE_PREFIX,
    ConnectorSettings,
    KubernetesNames,
)

if TYPE_CHECKING:
    from jot.client import Client
    from jot.destination.verifier import AsyncVerifier
    from jot.jose import KeySet

__all__ = ["connector"]

F = TypeVar("F", bound=Callable[..., Any])


#: Each connector's own default address, so that the three can run side by side.
DEFAULT_LISTEN = {
    "forward-auth": "127.0.0.1:8081",
    "proxy": "127.0.0.1:8443",
    "webhook": "127.0.0.1:8444",
}


def _verifier_options(command: str) -> Callable[[F], F]:
    return lambda func: _with_verifier_options(func, DEFAULT_LISTEN[command])


def _with_verifier_options(func: F, listen: str) -> F:
    options = [
        click.option(
            "--issuer",
            envvar=["JOT_ISSUER", "JOT_SERVER"],
            help="The token issuer: the authority's URL, which its tokens carry as iss "
            "(https, or http to loopback; env JOT_ISSUER or JOT_SERVER).",
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
            "--decryption-key",
            "decryption_keys",
            multiple=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="This destination's private key (JWK or PEM): tokens must be sealed to it. "
            "Repeat it during a key rollover (old and new).",
        ),
        click.option(
            "--publish-key",
            is_flag=True,
            help="At start, register the public half of the last --decryption-key with the "
            "authority, which then seals every token for this destination to it.",
        ),
        click.option(
            "--accept-unsealed",
            is_flag=True,
            help="With --decryption-key: take signed-only tokens too (while switching to "
            "sealed tokens).",
        ),
        click.option(
            "--leeway",
            type=Duration(0, MAX_LEEWAY),
            default=f"{MAX_CLOCK_SKEW}s",
            show_default=True,
            help="Allowed clock skew (30s, 2m).",
        ),
        click.option(
            "--cache-size",
            type=click.IntRange(0),
            default=CACHE_SIZE,
            show_default=True,
            help="Entries each cache holds (verified tokens, decisions); 0 turns them off.",
        ),
        click.option(
            "--keep-system-groups",
            is_flag=True,
            help="Keep 'system:' groups from tokens (dropped by default).",
        ),
        click.option(
            "--allow-no-role", is_flag=True, help="Accept valid tokens that have no role here."
        ),
        click.option(
            "--listen", default=listen, show_default=True, help="HOST:PORT (port 0: any free one)."
        ),
        # Deprecated aliases of --listen (see _options.REMOVED_IN).
        click.option("--host", hidden=True),
        click.option("--port", type=click.IntRange(0, 65535), hidden=True),
        click.option(
            "--log-level",
            type=click.Choice(["debug", "info", "warning", "error"]),
            default="warning",
            show_default=True,
            help="The least important log lines shown (on stderr).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _address(opts: dict[str, Any]) -> tuple[str, int]:
    """``(host, port)`` from ``--listen``, or from the deprecated ``--host``/``--port``."""
    listen, old_host, old_port = str(opts["listen"]), opts["host"], opts["port"]
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter("use HOST:PORT, e.g. 127.0.0.1:8081", param_hint="--listen")
    if old_host is not None or old_port is not None:
        deprecated("--host and --port", "use --listen HOST:PORT")
    host = old_host or host.strip("[]") or "127.0.0.1"
    return str(host), int(old_port) if old_port is not None else int(port)


def _settings(opts: dict[str, Any]) -> ConnectorSettings:
    """The typed settings of the options every connector shares (click hands them over as a
    dict: this is the one place that reads it)."""
    return ConnectorSettings(
        audience=opts["audience"], issuer=opts["issuer"],
        access_key=_access_key(opts["access_key_file"]), jwks_file=opts["jwks_file"],
        grants_file=opts["grants_file"], leeway=opts["leeway"], cache_size=opts["cache_size"],
        keep_system_groups=opts["keep_system_groups"], require_grant=not opts["allow_no_role"],
        decryption_keys=tuple(opts["decryption_keys"]), publish_key=opts["publish_key"],
        accept_unsealed=opts["accept_unsealed"],
    )  # fmt: skip


def _names(opts: dict[str, Any]) -> KubernetesNames:
    return KubernetesNames(opts["group_prefix"], opts["role_prefix"] or None)


def _access_key(path: Path | None) -> str | None:
    if path is None:
        return os.environ.get("JOT_ACCESS_KEY") or None
    try:
        return path.read_text().strip() or None
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--access-key-file"
        ) from None


def build_verifier(settings: ConnectorSettings) -> AsyncVerifier:
    """An :class:`AsyncVerifier` from the common settings; user mistakes become one line."""
    from jot.destination.grants import FileGrants
    from jot.destination.verifier import AsyncVerifier

    s = settings
    if s.issuer is None and s.jwks_file is None:
        raise click.UsageError("give --issuer (the authority) or --jwks-file")
    if (s.publish_key or s.accept_unsealed) and not s.decryption_keys:
        raise click.UsageError("--publish-key and --accept-unsealed go with --decryption-key")
    try:
        jwks = json.loads(s.jwks_file.read_text()) if s.jwks_file else None
        grants = FileGrants(s.grants_file) if s.grants_file else None
        return AsyncVerifier(
            s.issuer, audience=s.audience, jwks=jwks, grants=grants, access_key=s.access_key,
            leeway=s.leeway, cache_size=s.cache_size, keep_system_groups=s.keep_system_groups,
            decrypt_with=_decryption_keys(s.decryption_keys), accept_unsealed=s.accept_unsealed,
        )  # fmt: skip
    except click.ClickException:
        raise  # Already one line, naming its option.
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc).splitlines()[0]) from None
    except Exception as exc:  # A JOSE error in a static JWKS file, say: one line, no traceback.
        raise click.UsageError(f"{type(exc).__name__}: {exc}") from None


def _decryption_keys(paths: tuple[Path, ...]) -> KeySet | None:
    from jot.jose import KeySet, jwk
    from jot.jose.errors import JotError

    keys = []
    for path in paths:
        try:
            keys.append(jwk.import_key(path.read_bytes()))
        except JotError as exc:
            raise click.BadParameter(f"{path}: {exc}", param_hint="--decryption-key") from None
    return KeySet(keys) if keys else None


def publish_key(settings: ConnectorSettings, verifier: AsyncVerifier) -> None:
    """``--publish-key``: register the public half of the last decryption key as this
    destination's encryption key (the connector role on ``jot.<name>`` allows it)."""
    from jot.client import Client, ClientError, ops

    keys = verifier.settings.decrypt_with
    if not settings.publish_key or keys is None or settings.issuer is None:
        return
    newest = keys.keys[-1].public()
    public = {**newest.to_dict(private=False), "alg": newest.alg, "kid": newest.kid}
    with Client(settings.issuer, settings.access_key, timeout=10) as client:
        try:
            client.call(ops.destination_encryption_key(settings.audience, public))
        except ClientError as exc:
            raise click.ClickException(
                f"cannot publish the encryption key: {exc.message}"
            ) from None


def check_authority(settings: ConnectorSettings) -> None:
    """What a connector needs from the authority, checked once before it listens: the
    issuer answers as a jot authority, and (unless the grants come from a file) the access
    key works, may read grants, and the destination exists. Each failure is one line."""
    from jot.client import Client, ClientError, ops

    issuer, key = settings.issuer, settings.access_key
    if issuer is None:
        return
    with Client(issuer, key, timeout=10) as client:
        try:
            if settings.jwks_file is None:
                jwks = client.call(ops.jwks())
                if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
                    raise click.ClickException(f"{issuer} is not a jot authority (no JWKS)")
            if settings.grants_file is not None:
                return
            if key is None:
                raise click.ClickException(
                    "no access key to read the grants with: give --access-key-file or set "
                    "JOT_ACCESS_KEY (or --grants-file)"
                )
            _check_grants_access(client, issuer, settings.audience)
        except ClientError as exc:
            raise click.ClickException(exc.message) from None


def _check_grants_access(client: Client, issuer: str, name: str) -> None:
    from jot.client import ClientError, ops

    try:
        me = client.whoami()
    except ClientError as exc:
        if exc.status == 401:
            raise click.ClickException(f"{issuer} refused the access key: {exc.message}") from None
        raise
    no_grant = click.ClickException(
        f"{me.name} may not read the grants of {name!r}: give it the connector grant "
        f"(jot grants add user:{me.name} connector jot.{name})"
    )
    if not set(me.roles) & {"connector", "view", "admin"}:
        raise no_grant
    try:
        client.call(ops.destination_get(name))
    except ClientError as exc:
        if exc.status == 404:
            raise click.ClickException(
                f"no destination named {name!r} at {issuer} (jot destinations add {name})"
            ) from None
        if exc.status == 403:  # A connector bound to another destination.
            raise no_grant from None
        raise


def _configure_logging(level: str) -> None:
    import logging

    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )


@click.group()
def connector() -> None:
    """Run a destination-side service that verifies jot tokens."""


@connector.command("forward-auth")
@_verifier_options("forward-auth")
@browser_options
def forward_auth(**opts: Any) -> None:
    """Answer nginx auth_request / Traefik / Caddy forward-auth with X-Jot-* headers (and,
    with --public-url, sign browsers in through the authority)."""
    from jot.destination.forward_auth import ForwardAuth
    from jot.destination.serve import serve

    _configure_logging(opts["log_level"])
    settings = _settings(opts)
    verifier = build_verifier(settings)
    browser = build_browser(opts, settings.issuer, settings.audience, verifier)
    app = ForwardAuth(verifier, require_grant=settings.require_grant, browser=browser)
    check_authority(settings)
    publish_key(settings, verifier)
    host, port = _address(opts)
    # Its answers have no body (the sign-in pages aside): no head waits for one.
    _run(lambda: serve(app, host=host, port=port, log_level=opts["log_level"], bodies=False))


def _run(start: Callable[[], None]) -> None:
    from jot._serving import ServingConfigError

    try:
        start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc.strerror or exc}") from None
    except ServingConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _tls_options(func: F) -> F:
    options = [
        click.option(
            "--tls-cert",
            type=click.Path(exists=True, dir_okay=False),
            help="Server certificate (PEM); without it a self-signed development certificate "
            "is kept in --data-dir and used again at every start.",
        ),
        click.option(
            "--tls-key",
            type=click.Path(exists=True, dir_okay=False),
            help="The private key of --tls-cert (PEM).",
        ),
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False, path_type=Path),
            envvar="JOT_DATA_DIR",
            help="Where the development certificate is kept (default: $XDG_DATA_HOME/jot; "
            "env JOT_DATA_DIR).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jot"


@dataclass(frozen=True, slots=True)
class _ServerTLS:
    """``--tls-cert``, ``--tls-key`` and ``--data-dir`` (where a development certificate is
    kept when no certificate is given)."""

    cert: str | None
    key: str | None
    data_dir: Path | None

    @classmethod
    def of(cls, opts: dict[str, Any]) -> _ServerTLS:
        return cls(opts["tls_cert"], opts["tls_key"], opts["data_dir"])


def _server_tls(tls: _ServerTLS, audience: str, host: str, command: str) -> tuple[str, str]:
    """``--tls-cert``/``--tls-key``, or the development certificate of this connector (one
    per command and destination name), kept so that kubectl can go on trusting it."""
    from jot.destination.tls import development_certificate

    if (tls.cert is None) != (tls.key is None):
        raise click.UsageError("give both --tls-cert and --tls-key, or neither")
    if tls.cert is not None and tls.key is not None:
        return tls.cert, tls.key
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", audience):
        raise click.UsageError("--name must be a destination name (letters, digits, _ . -)")
    directory = (tls.data_dir or _default_data_dir()) / "tls"
    hosts = [h for h in (host, "localhost", "127.0.0.1") if h not in _WILDCARDS]
    try:
        kept = development_certificate(
            directory, f"{command}-{audience}", list(dict.fromkeys(hosts))
        )
    except OSError as exc:
        raise click.ClickException(
            f"cannot keep the development certificate in {directory}: {exc.strerror or exc} "
            "(give --data-dir, or --tls-cert and --tls-key)"
        ) from None
    if kept.made is None:
        click.echo(f"development certificate (kept from an earlier start): {kept.cert}", err=True)
    else:
        click.echo(
            f"new development certificate ({kept.made}): {kept.cert}; clients must trust it "
            "(a kubeconfig's certificate-authority)",
            err=True,
        )
    return str(kept.cert), str(kept.key)


#: Addresses that mean "every interface": no certificate can name them.
_WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104


@connector.command("webhook")
@_verifier_options("webhook")
@_tls_options
@click.option("--group-prefix", default="", help="Prefix for the token's groups.")
@click.option(
    "--role-prefix",
    default=ROLE_PREFIX,
    show_default=True,
    help="Roles granted here are added as groups with this prefix; '' turns that off.",
)
def webhook(**opts: Any) -> None:
    """Answer Kubernetes TokenReview requests (webhook token authentication)."""
    from jot.destination.serve import serve
    from jot.destination.webhook import TokenReviewApp

    _configure_logging(opts["log_level"])
    settings = _settings(opts)
    verifier = build_verifier(settings)
    app = TokenReviewApp(verifier, names=_names(opts), require_grant=settings.require_grant)
    host, port = _address(opts)
    cert, key = _server_tls(_ServerTLS.of(opts), settings.audience, host, "webhook")
    check_authority(settings)
    publish_key(settings, verifier)
    _run(
        lambda: serve(
            app,
            host=host,
            port=port,
            certfile=cert,
            keyfile=key,
            log_level=opts["log_level"],
        )
    )


@connector.command("proxy")
@_verifier_options("proxy")
@_tls_options
@click.option("--upstream", required=True, help="URL of the service behind the proxy.")
@click.option("--kubernetes", is_flag=True, help="Impersonate the caller (upstream: API server).")
@click.option("--group-prefix", default="", help="Prefix for impersonated groups.")
@click.option(
    "--role-prefix",
    default=ROLE_PREFIX,
    show_default=True,
    help="Kubernetes mode: roles granted here become groups with this prefix; '' turns off.",
)
@click.option(
    "--upstream-token-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Bearer token for the upstream, re-read when the file changes.",
)
@click.option(
    "--upstream-ca",
    type=click.Path(exists=True, dir_okay=False),
    help="The CA file to verify the upstream with (default: the system's).",
)
@click.option(
    "--upstream-client-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="A client certificate to show the upstream (PEM).",
)
@click.option(
    "--upstream-client-key",
    type=click.Path(exists=True, dir_okay=False),
    help="The private key of --upstream-client-cert (PEM).",
)
@click.option("--upstream-insecure", is_flag=True, help="Do not verify the upstream's TLS.")
@functools.partial(browser_options, forward_auth=False)
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
    """A TLS reverse proxy that verifies jot tokens (and impersonates, for Kubernetes; with
    --public-url, signs browsers in through the authority)."""
    import asyncio

    from jot.destination.proxy import CredentialFile, Proxy
    from jot.destination.proxy_headers import HeaderRules, IdentityHeaders
    from jot.destination.serve import bind
    from jot.destination.tls import client_context, server_context

    _configure_logging(opts["log_level"])
    settings = _settings(opts)
    verifier = build_verifier(settings)
    names = _names(opts)
    try:
        upstream_tls = client_context(
            opts["upstream_ca"], opts["upstream_client_cert"], opts["upstream_client_key"],
            verify=not opts["upstream_insecure"],
        )  # fmt: skip
        credential = (
            CredentialFile(opts["upstream_token_file"]) if opts["upstream_token_file"] else None
        )
        rendering = IdentityHeaders(
            kubernetes=opts["kubernetes"], group_prefix=names.group_prefix,
            role_prefix=names.role_prefix,
        )  # fmt: skip
        rules = HeaderRules.of(opts["strip_header"], opts["allow_upgrade"])
        browser = build_browser(opts, settings.issuer, settings.audience, verifier)
        app = Proxy(
            verifier, opts["upstream"], rendering=rendering, upstream_tls=upstream_tls,
            credential=credential, require_grant=settings.require_grant, rules=rules,
            browser=browser,
        )  # fmt: skip
        host, port = _address(opts)
        cert, key = _server_tls(_ServerTLS.of(opts), settings.audience, host, "proxy")
        tls = server_context(cert, key)
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc).splitlines()[0]) from None
    check_authority(settings)
    publish_key(settings, verifier)

    def start() -> None:
        sock = bind(host, port)
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"listening on https://{shown}:{sock.getsockname()[1]}")
        asyncio.run(app.serve(sock, tls))

    _run(start)
