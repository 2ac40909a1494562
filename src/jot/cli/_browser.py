"""``jot connector forward-auth`` and ``proxy`` options for browser sign-in (``--public-url``,
``--client-secret-file``, forward auth's ``--signin-redirect``) and the object they build."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from jot.destination.browser import AsyncBrowserSignIn
    from jot.destination.verifier import AsyncVerifier

__all__ = ["browser_options", "build_browser"]

F = TypeVar("F", bound=Callable[..., Any])


def browser_options(func: F, *, forward_auth: bool = True) -> F:
    options = [
        click.option(
            "--public-url",
            "public_urls",
            multiple=True,
            metavar="URL",
            help="Sign browsers in: this destination's own origin, e.g. https://app.example "
            "(repeatable; register URL/.jot/callback as its redirect URI).",
        ),
        click.option(
            "--client-secret-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="File with the destination's OpenID client secret (or set JOT_CLIENT_SECRET).",
        ),
        click.option(
            "--signin-redirect",
            is_flag=True,
            help="Answer a browser without a session with 302 to the sign-in (Traefik, Caddy) "
            "instead of 401 (nginx error_page).",
        ),
    ]
    if not forward_auth:
        # The proxy answers the browser itself: it always redirects a GET to sign in.
        options.pop()
    for option in reversed(options):
        func = option(func)
    return func


def _secret(path: Path | None) -> str:
    if path is None:
        found = os.environ.get("JOT_CLIENT_SECRET", "").strip()
    else:
        try:
            found = path.read_text().strip()
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {path}: {exc.strerror}", param_hint="--client-secret-file"
            ) from None
    if not found:
        raise click.UsageError(
            "browser sign-in needs the client secret: --client-secret-file or JOT_CLIENT_SECRET"
        )
    return found


def build_browser(
    opts: dict[str, Any], issuer: str | None, audience: str, verifier: AsyncVerifier
) -> AsyncBrowserSignIn | None:
    """The browser sign-in of ``--public-url``, or ``None`` without it."""
    if not opts["public_urls"]:
        for name in ("client_secret_file", "signin_redirect"):
            if opts.get(name):
                raise click.UsageError(f"--{name.replace('_', '-')} needs --public-url")
        return None
    if issuer is None:
        raise click.UsageError("browser sign-in needs --issuer (the authority signs people in)")
    from jot.destination.browser import AsyncBrowserSignIn, BrowserSettings

    try:
        settings = BrowserSettings(
            issuer,
            audience,
            _secret(opts["client_secret_file"]),
            tuple(opts["public_urls"]),
            redirect=opts.get("signin_redirect", False),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--public-url") from None
    return AsyncBrowserSignIn(settings, verifier)
