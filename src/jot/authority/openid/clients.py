"""Destinations as OpenID Connect clients: registration, lookup, and their wire form.

The client id is the destination's name (the ``aud`` of its tokens). A confidential client
gets a random secret, shown once; a public one (``auth_method="none"``) proves itself with
PKCE only; a private_key_jwt client registers its public keys (inline: the authority never
fetches a client's key URL, so a registration cannot make it reach into the network).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from jot.api.openid import OidcClient, OidcClientSpec
from jot.authority.credentials import hash_secret
from jot.authority.errors import BadRequest
from jot.authority.models import Destination
from jot.authority.openid import verify
from jot.authority.openid.models import AuthorizationCode, OidcClientRow, RefreshHandle

__all__ = [
    "ASSERTION_ALGORITHMS",
    "Client",
    "find",
    "register",
    "to_api",
    "unregister",
]

#: The signature algorithms a private_key_jwt assertion may use (never HMAC, never none).
ASSERTION_ALGORITHMS = ("EdDSA", "ES256", "RS256", "PS256")
_SECRET_METHODS = ("client_secret_basic", "client_secret_post")
# Hosts where plain http is acceptable for a redirect: the browser never leaves the machine.
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Client:
    """A registered client as the endpoints see it."""

    destination_id: str
    client_id: str
    auth_method: str
    secret_hash: str | None
    #: The registered public keys (JSON) of a private_key_jwt client.
    jwks: str | None
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]

    @property
    def public(self) -> bool:
        return self.auth_method == "none"

    @property
    def confidential(self) -> bool:
        return not self.public


def _check_uri(uri: str) -> None:
    parts = urlsplit(uri)
    if not parts.hostname:
        raise BadRequest(f"redirect URI {uri!r} has no host")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        # OAuth 2.0 Security BCP §2.6: codes travel in the redirect; only TLS keeps them.
        raise BadRequest(f"redirect URI {uri!r} must use https (http only on loopback)")


def _jwks(spec: OidcClientSpec) -> str | None:
    if spec.auth_method != "private_key_jwt":
        if spec.jwks is not None:
            raise BadRequest("jwks is only for auth_method private_key_jwt")
        return None
    if spec.jwks is None:
        raise BadRequest("private_key_jwt needs the client's public keys (jwks)")
    try:
        return verify.client_jwks(spec.jwks)
    except verify.VerifyError as exc:
        raise BadRequest(f"jwks: {exc}") from None


def register(
    session: Session, destination: Destination, spec: OidcClientSpec, now: datetime
) -> OidcClient:
    """Create or replace the registration of ``destination``; a new confidential client (or
    one that switches from public) gets a fresh secret, shown in the answer only."""
    for uri in (*spec.redirect_uris, *spec.post_logout_redirect_uris):
        _check_uri(uri)
    jwks = _jwks(spec)
    row = session.get(OidcClientRow, destination.id)
    secret: str | None = None
    if row is None:
        row = OidcClientRow(destination_id=destination.id, created=now, secret_hash=None)
        session.add(row)
    row.auth_method = spec.auth_method
    row.jwks = jwks
    row.redirect_uris = json.dumps(list(dict.fromkeys(spec.redirect_uris)))
    row.post_logout_redirect_uris = json.dumps(list(dict.fromkeys(spec.post_logout_redirect_uris)))
    row.updated = now
    if spec.auth_method in _SECRET_METHODS:
        if row.secret_hash is None:
            secret = new_secret(row)
    else:
        row.secret_hash = None
    return to_api(row, destination.name, secret)


def new_secret(row: OidcClientRow) -> str:
    """A new client secret for ``row`` (the old one stops working); the caller shows it."""
    secret = "jot_cs_" + secrets.token_urlsafe(32)
    row.secret_hash = hash_secret(secret)
    return secret


def unregister(session: Session, destination_id: str) -> bool:
    """Remove the registration, its codes and its refresh handles; whether there was one."""
    session.execute(
        delete(AuthorizationCode).where(AuthorizationCode.destination_id == destination_id)
    )
    session.execute(delete(RefreshHandle).where(RefreshHandle.destination_id == destination_id))
    found = session.execute(
        delete(OidcClientRow).where(OidcClientRow.destination_id == destination_id)
    )
    return bool(getattr(found, "rowcount", 0))


def to_api(row: OidcClientRow, name: str, secret: str | None = None) -> OidcClient:
    return OidcClient(
        client_id=name,
        redirect_uris=json.loads(row.redirect_uris),
        auth_method=row.auth_method,
        post_logout_redirect_uris=json.loads(row.post_logout_redirect_uris),
        key_ids=verify.key_ids(row.jwks) if row.jwks else [],
        client_secret=secret,
    )


_FIND = select(Destination.id, Destination.name, OidcClientRow).join(
    OidcClientRow, OidcClientRow.destination_id == Destination.id
)


def find(session: Session, client_id: str) -> Client | None:
    """The registered client called ``client_id``, or ``None``."""
    found = session.execute(_FIND.where(Destination.name == client_id)).first()
    if found is None:
        return None
    row: OidcClientRow = found[2]
    return Client(
        destination_id=found[0],
        client_id=found[1],
        auth_method=row.auth_method,
        secret_hash=row.secret_hash,
        jwks=row.jwks,
        redirect_uris=tuple(json.loads(row.redirect_uris)),
        post_logout_redirect_uris=tuple(json.loads(row.post_logout_redirect_uris)),
    )
