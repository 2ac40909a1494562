"""The options of ``jot destinations add/update`` that register a destination as an OpenID
Connect client (``--redirect-uri``, ``--public``, ``--client-auth``, ``--jwks-file``), and the
lines that show a registration (the client secret once, with what to do with it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from jot.api.openid import AUTH_METHODS, OidcClient, OidcClientSpec
from jot.api.untrusted import UntrustedJSONError, loads
from jot.cli._output import say
from jot.cli._validate import checked

__all__ = ["oidc_options", "oidc_spec", "show_oidc"]

F = TypeVar("F", bound=Callable[..., Any])


def oidc_options(command: F) -> F:
    """The registration options, in the order ``--help`` shows them."""
    options = [
        click.option(
            "--redirect-uri", "redirect_uris", multiple=True, metavar="URL",
            help="Register NAME as an OpenID client with this redirect URI (repeatable).",
        ),
        click.option(
            "--public", is_flag=True,
            help="A public client (no secret; PKCE with S256 is required).",
        ),
        click.option(
            "--client-auth", type=click.Choice([m for m in AUTH_METHODS if m != "none"]),
            help="How the client proves itself at the token endpoint (client_secret_basic).",
        ),
        click.option(
            "--jwks-file", type=click.Path(dir_okay=False, path_type=Path),
            help="The client's public keys (JWKS) for --client-auth private_key_jwt.",
        ),
        click.option(
            "--post-logout-redirect-uri", "logout_uris", multiple=True, metavar="URL",
            help="Where the client may send people after they sign out (repeatable).",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def oidc_spec(
    redirect_uris: tuple[str, ...],
    public: bool,
    client_auth: str | None,
    jwks_file: Path | None,
    logout_uris: tuple[str, ...],
) -> dict[str, Any] | None:
    """The ``oidc`` request member, or ``None`` when no registration option was given."""
    if not redirect_uris:
        if public or client_auth or jwks_file or logout_uris:
            raise click.UsageError("give at least one --redirect-uri to register an OpenID client")
        return None
    if public and client_auth:
        raise click.UsageError("--public and --client-auth exclude each other")
    method = "none" if public else (client_auth or "client_secret_basic")
    if (jwks_file is not None) != (method == "private_key_jwt"):
        raise click.UsageError(
            "--jwks-file goes with --client-auth private_key_jwt, and only there"
        )
    spec: dict[str, Any] = {
        "redirect_uris": list(redirect_uris),
        "auth_method": method,
        "post_logout_redirect_uris": list(logout_uris),
    }
    if jwks_file is not None:
        spec["jwks"] = _read_jwks(jwks_file)
    checked(OidcClientSpec, **spec)
    return spec


def _read_jwks(path: Path) -> dict[str, Any]:
    try:
        data = loads(path.read_bytes(), max_bytes=64 * 1024)
    except OSError as exc:
        raise click.UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UntrustedJSONError as exc:
        raise click.UsageError(f"{path} is not a JWKS: {exc}") from None
    if not isinstance(data, dict):
        raise click.UsageError(f"{path} is not a JWKS (a JSON object with a keys list)")
    return data


def show_oidc(oidc: OidcClient | None) -> None:
    """What an admin needs to configure the client; the secret is shown this once."""
    if oidc is None:
        return
    say(f"OpenID client {oidc.client_id} ({oidc.auth_method}); redirect URIs:")
    for uri in oidc.redirect_uris:
        say(f"  {uri}")
    if oidc.client_secret is not None:
        say(f"client secret (shown once; the destination keeps it): {oidc.client_secret}")
