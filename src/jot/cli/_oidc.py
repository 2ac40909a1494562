"""``jot login --provider NAME [--device | --no-browser]``: the OIDC parts of ``jot login``.

The login URL and the device code go to stderr, so scripts can still read stdout.
"""

from __future__ import annotations

import webbrowser
from typing import Any

import click

from jot.api.providers import DeviceAuthorization
from jot.client import Client
from jot.client.oidc import device_login, loopback_login

__all__ = ["provider_login"]


def _open(url: str, *, browser: bool) -> None:
    if browser and webbrowser.open(url):
        click.echo(f"Opened your browser to log in. If it did not appear, open:\n  {url}", err=True)
        return
    click.echo(f"Open this URL in a browser on this machine to log in:\n  {url}", err=True)


def _show(start: DeviceAuthorization) -> None:
    click.echo(
        f"To log in, open {start.verification_uri} on any device and enter the code "
        f"{start.user_code}\n  (or open {start.verification_uri_complete})",
        err=True,
    )


def provider_login(
    client: Client, provider: str | None, *, device: bool, browser: bool
) -> dict[str, Any]:
    """Log in through ``provider`` (``None``: the server's only one, device flow only);
    returns the credential to remember."""
    if device:
        result = device_login(client, provider, show=_show)
    elif provider is None:
        raise click.ClickException("which provider? use jot login SERVER --provider NAME")
    else:
        result = loopback_login(client, provider, open_url=lambda url: _open(url, browser=browser))
    expires = result.expires.isoformat() if result.expires else None
    return {"access_key": result.access_key, "name": result.identity, "expires": expires}
