"""The tables of jot as an OpenID provider: registered clients, one-time authorization codes,
refresh handles and the private_key_jwt assertions already seen.

Codes, refresh handles and client secrets are high-entropy random values; only their SHA-256
is stored (as for access keys), so a copy of the database hands out nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jot.authority.models import Base, UTCDateTime

__all__ = ["AuthorizationCode", "OidcClientRow", "RefreshHandle", "SeenAssertion"]


class OidcClientRow(Base):
    """A destination's registration as an OIDC client; list-valued fields are JSON text."""

    __tablename__ = "openid_clients"

    destination_id: Mapped[str] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), primary_key=True
    )
    auth_method: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    jwks: Mapped[str | None] = mapped_column(Text)
    redirect_uris: Mapped[str] = mapped_column(Text)
    post_logout_redirect_uris: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    updated: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthorizationCode(Base):
    """One code: bound to the client, the redirect URI, the PKCE challenge and the browser
    session that signed in; ``used`` is set (and committed) before anything is issued."""

    __tablename__ = "openid_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    destination_id: Mapped[str] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), index=True
    )
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    challenge: Mapped[str | None] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(255))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RefreshHandle(Base):
    """A confidential client's refresh token: it lives no longer than the browser session it
    came from, and every use re-checks the grant."""

    __tablename__ = "openid_refresh"

    handle_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    destination_id: Mapped[str] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), index=True
    )
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: The code it came from: a replayed code revokes what that code produced (RFC 6749 §4.1.2).
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(String(255))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SeenAssertion(Base):
    """The ``jti`` of each private_key_jwt client assertion, until it expires (no replay)."""

    __tablename__ = "openid_assertions"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
