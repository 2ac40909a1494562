"""The OIDC tables: providers, links to identities, provider-made memberships, sessions and
the short-lived state of logins in progress.

Secrets (client secret, refresh tokens, access keys waiting to be handed over) are stored
AES-256-GCM encrypted under the root key, like signing keys. They share
:class:`jot.authority.models.Base`, so one Alembic metadata describes every table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jot.authority.models import Base, UTCDateTime

__all__ = [
    "DeviceRequest",
    "LoginAttempt",
    "Provider",
    "ProviderLink",
    "ProviderMembership",
    "ProviderSession",
]


class Provider(Base):
    """An upstream OpenID provider; list-valued fields are JSON text."""

    __tablename__ = "oidc_providers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    client_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    scopes: Mapped[str] = mapped_column(Text)
    email_claim: Mapped[str] = mapped_column(String(100))
    name_claim: Mapped[str] = mapped_column(String(100))
    groups_claim: Mapped[str] = mapped_column(String(100))
    allowed_domains: Mapped[str] = mapped_column(Text)
    revalidate_after: Mapped[int] = mapped_column(Integer)
    #: The operator says the provider verifies every address (see ``accounts._check_link``).
    verifies_email: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    updated: Mapped[datetime] = mapped_column(UTCDateTime())


class ProviderLink(Base):
    """The provider's stable ``sub`` for an identity (e-mail addresses can change)."""

    __tablename__ = "oidc_links"

    provider_id: Mapped[str] = mapped_column(
        ForeignKey("oidc_providers.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )


class ProviderMembership(Base):
    """A membership that came from the provider's groups claim (replaced at each login);
    memberships without such a row are managed in jot and never touched by a login."""

    __tablename__ = "oidc_memberships"

    provider_id: Mapped[str] = mapped_column(
        ForeignKey("oidc_providers.id", ondelete="CASCADE"), primary_key=True
    )
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )


class ProviderSession(Base):
    """The provider login behind one access key, with its encrypted refresh token."""

    __tablename__ = "oidc_sessions"

    access_key_id: Mapped[str] = mapped_column(
        ForeignKey("access_keys.id", ondelete="CASCADE"), primary_key=True
    )
    provider_id: Mapped[str] = mapped_column(
        ForeignKey("oidc_providers.id", ondelete="CASCADE"), index=True
    )
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(255))
    refresh_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_check: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginAttempt(Base):
    """One authorization-code round trip; the primary key is the SHA-256 of ``state``.

    ``mode`` is ``browser``, ``cli`` (hand over to a loopback redirect) or ``device``.
    ``finished`` is set the moment the callback is taken, so a replay finds it used.
    """

    __tablename__ = "oidc_logins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_id: Mapped[str] = mapped_column(
        ForeignKey("oidc_providers.id", ondelete="CASCADE"), index=True
    )
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    browser_hash: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    cli_redirect: Mapped[str | None] = mapped_column(String(200))
    cli_challenge: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(32))
    handoff_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    result_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeviceRequest(Base):
    """RFC 8628 device authorization for jot's own CLI.

    ``status``: ``pending`` → ``approved`` (result waiting, encrypted) → ``consumed``; or
    ``denied``. Only the SHA-256 of the device code is stored.
    """

    __tablename__ = "oidc_devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("oidc_providers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(300))
    result_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    interval: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime] = mapped_column(UTCDateTime())
    last_poll: Mapped[datetime | None] = mapped_column(UTCDateTime())
