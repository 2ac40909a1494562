"""Sealed tokens: a destination's public encryption key, set by an admin or by the
destination's own connector (which holds the private half).

From the moment a key is set, every token for that destination is signed, then encrypted to
that key (a nested JWT, ``cty: JWT``): proxies, logs and the client see an opaque JWE. A new
key replaces the old one for new tokens at once; tokens sealed to the old key stay readable
by a connector that still holds it (the rollover in docs/destinations.md).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from jot.api.destinations import EncryptionKey
from jot.authority import access, signing
from jot.authority.context import Context
from jot.authority.errors import BadRequest, Forbidden, NotFound
from jot.authority.models import Destination

__all__ = ["apply", "remove_encryption_key", "set_encryption_key", "shown"]


def shown(row: Destination) -> dict[str, Any] | None:
    """The stored public JWK, as the API shows it."""
    return json.loads(row.encryption_key) if row.encryption_key else None


def apply(ctx: Context, row: Destination, data: Any) -> None:
    """Check ``data`` (a public JWK) and seal ``row``'s tokens to it from now on."""
    if row.name == access.JOT_DESTINATION:
        raise BadRequest("tokens for 'jot' itself are never sealed")
    try:
        checked = signing.encryption_key(data)
    except ValueError as exc:
        raise BadRequest(f"encryption key: {exc}") from None
    row.encryption_key = json.dumps(checked, sort_keys=True)
    row.updated = ctx.now
    ctx.audit("destination.encryption_key_set", row.name, kid=checked["kid"], alg=checked["alg"])


def _mine(ctx: Context, name: str) -> Destination:
    """The destination, if the caller is an admin or that destination's connector (a viewer
    reads keys but sets none)."""
    connected = access.connector_destinations(ctx.session, ctx.me().id, ctx.now)
    mine = "admin" in ctx.roles or name in connected
    if not mine:
        raise Forbidden(
            f"setting {name!r}'s encryption key needs admin, or the connector role on jot.{name}"
        )
    row = ctx.session.scalars(select(Destination).where(Destination.name == name)).first()
    if row is None:
        raise NotFound(f"no destination named {name!r}")
    return row


def set_encryption_key(ctx: Context, name: str, body: EncryptionKey) -> dict[str, Any]:
    """Seal ``name``'s tokens to ``key`` from now on; answers the key as stored."""
    row = _mine(ctx, name)
    apply(ctx, row, body.key)
    ctx.after_commit.append(ctx.authority.decisions.clear)
    return shown(row) or {}


def remove_encryption_key(ctx: Context, name: str) -> None:
    """Tokens for ``name`` are signed only from now on."""
    row = _mine(ctx, name)
    if row.encryption_key is not None:
        row.encryption_key, row.updated = None, ctx.now
        ctx.audit("destination.encryption_key_removed", name)
