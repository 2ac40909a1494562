"""The browser sessions of the web console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from jot.authority.models import Base, UTCDateTime

__all__ = ["WebSession"]


class WebSession(Base):
    """One signed-in browser.

    The cookie holds ``<id>.<secret>``; only the SHA-256 of the secret is stored. The session
    acts with an access key of its own (made at sign-in, bounded to the session's lifetime and
    idle timeout), kept AES-256-GCM sealed under the root key: revoking that key, or any key
    it was made from, ends the session, and ending the session revokes it.
    """

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    access_key_id: Mapped[str] = mapped_column(
        ForeignKey("access_keys.id", ondelete="CASCADE"), index=True
    )
    key_enc: Mapped[bytes] = mapped_column(LargeBinary)
    #: ``password``, ``access key`` or ``oidc:<provider>``.
    method: Mapped[str] = mapped_column(String(80))
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime] = mapped_column(UTCDateTime())
    idle_timeout: Mapped[int] = mapped_column(Integer)
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime())
    client: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
