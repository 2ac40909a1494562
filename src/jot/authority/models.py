"""SQLAlchemy ORM models: the authority's tables.

They stay apart from the wire models in :mod:`jot.api`; stores convert with ``to_api``.
Times are stored as timezone-aware UTC datetimes on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from jot.api.identities import fold_name

__all__ = [
    "TOKEN_ISSUED",
    "AccessKey",
    "AccessRequest",
    "AuditEvent",
    "Base",
    "Destination",
    "Grant",
    "Group",
    "Identity",
    "LimitLock",
    "Membership",
    "Meta",
    "Revision",
    "Revocation",
    "SigningKey",
    "UTCDateTime",
]

# Named constraints make Alembic migrations reproducible on every engine.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime that is always aware and UTC, also on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        result: datetime = value
        if result.tzinfo is None:
            return result.replace(tzinfo=UTC)
        return result.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class _Named:
    """``name`` is shown as given; ``name_key`` (:func:`jot.api.fold_name` of it) is what is
    unique and what lookups compare, so ``BOB@Example.com`` and ``bob@example.com`` are one."""

    name: Mapped[str] = mapped_column(String(253))
    name_key: Mapped[str] = mapped_column(String(253), unique=True)

    @validates("name")
    def _fold(self, _key: str, value: str) -> str:
        self.name_key = fold_name(value)
        return value


class Identity(_Named, Base):
    """A person (``kind="user"``, may have a password) or a machine (access keys only)."""

    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    updated: Mapped[datetime] = mapped_column(UTCDateTime())


class Group(_Named, Base):
    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime())


class Membership(Base):
    __tablename__ = "memberships"
    # Covering: an identity's groups are read on every key check without touching the rows.
    __table_args__ = (Index("ix_memberships_identity_group", "identity_id", "group_id"),)

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )


class AccessKey(Base):
    """A long-lived credential; only the SHA-256 of its secret is stored.

    A key made with another key of the same identity is *derived*: ``parent_id`` is the key it
    was made with (revoking that one revokes this one), ``origin_id`` the first key of the
    line (a login; its provider session, if any, is revalidated for every key of the line).
    Both are ``None`` for a key made by a login or by an admin for another identity.
    """

    __tablename__ = "access_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(253))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inactivity_timeout: Mapped[int | None] = mapped_column(Integer)
    last_used: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime())
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("access_keys.id", ondelete="CASCADE"), index=True, default=None
    )
    origin_id: Mapped[str | None] = mapped_column(String(32), default=None)


class Destination(Base):
    __tablename__ = "destinations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    lifetime: Mapped[int] = mapped_column(Integer)
    group_narrowing: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    updated: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The public JWK that tokens for this destination are sealed to (None: signed only).
    encryption_key: Mapped[str | None] = mapped_column(Text, default=None)
    #: A Kubernetes destination's API server (or jot proxy) URL and its CA's PEM, for the
    #: kubeconfigs people download (None: not told).
    cluster_server: Mapped[str | None] = mapped_column(String(2048), default=None)
    cluster_ca: Mapped[str | None] = mapped_column(Text, default=None)


class Grant(Base):
    """``(subject, role, resource)``; ``destination_id`` ties it to the resource's destination.

    The subject is an identity or a group by id, never by name: a rename carries the grant,
    and a later identity that gets the same name gets nothing. Deleting the subject deletes
    the grant. The unique constraints cover the subject lookups (NULLs never collide).
    """

    __tablename__ = "grants"
    __table_args__ = (
        UniqueConstraint("identity_id", "role", "resource"),
        UniqueConstraint("group_id", "role", "resource"),
        CheckConstraint(
            "(identity_id IS NULL) <> (group_id IS NULL)", name="ck_grants_one_subject"
        ),
        # A token decision reads one caller's grants on one destination: by these, its cost
        # follows the caller's grants, not the destination's (jot.authority.access).
        Index("ix_grants_destination_identity", "destination_id", "identity_id"),
        Index("ix_grants_destination_group", "destination_id", "group_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    identity_id: Mapped[str | None] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(253))
    resource: Mapped[str] = mapped_column(String(300))
    destination_id: Mapped[str] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), index=True
    )
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    #: A time-bound grant stops applying at ``expires`` (and is then deleted and audited).
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True, default=None)


class AccessRequest(Base):
    """A request for ``(role, resource)`` for ``duration`` seconds, by ``identity_id``.

    ``state`` moves once from ``pending`` to ``approved``, ``denied``, ``cancelled`` or
    ``expired``; ``decided_by`` is the approver's name then (the approver may go later).
    """

    __tablename__ = "access_requests"
    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'approved', 'denied', 'cancelled', 'expired')",
            name="ck_access_requests_state",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(253))
    resource: Mapped[str] = mapped_column(String(300))
    destination_id: Mapped[str] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), index=True
    )
    duration: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    expires: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    decided: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(253), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    grant_id: Mapped[str | None] = mapped_column(String(32), default=None)
    grant_expires: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Revocation(Base):
    """A deny entry: every token of a subject (``kind="subject"``, ``value`` its identity id)
    or one token (``kind="token"``, ``value`` its ``jti``) is refused everywhere until
    ``until``, when the last token it could concern has expired. Destinations get the live
    entries with their grants."""

    __tablename__ = "revocations"
    __table_args__ = (
        UniqueConstraint("kind", "value"),
        CheckConstraint("kind IN ('subject', 'token')", name="ck_revocations_kind"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(300))
    #: Who it concerns, as shown (``user:NAME``, or the token's jti).
    target: Mapped[str] = mapped_column(String(300))
    until: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str | None] = mapped_column(String(253))
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class Revision(Base):
    """Monotonic counters (``grants``) behind ETags and long-polls."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class SigningKey(Base):
    """A signing key; the private JWK is AES-256-GCM encrypted under the root key.

    A key signs from ``activates`` until the next key activates; it stays in the JWKS until
    every token it signed has expired plus skew and cache time, or until ``revoked``.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[str] = mapped_column(Text)
    private_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    activates: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime())


#: The one event kind the token path writes, at every token: the indexes that "My access"
#: reads one identity's events by leave it out, so that issuing pays for none of them.
TOKEN_ISSUED = "token.issued"
_NOT_TOKENS = text(f"kind <> '{TOKEN_ISSUED}'")


class AuditEvent(Base):
    """Append-only: rows are inserted, never updated or deleted by the application."""

    __tablename__ = "audit"
    __table_args__ = (
        Index(
            "ix_audit_actor_id", "actor", "id",
            sqlite_where=_NOT_TOKENS, postgresql_where=_NOT_TOKENS,
        ),
        Index(
            "ix_audit_target_id", "target", "id",
            sqlite_where=_NOT_TOKENS, postgresql_where=_NOT_TOKENS,
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str | None] = mapped_column(String(253))
    target: Mapped[str | None] = mapped_column(String(300))
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)


class LimitLock(Base):
    """A rate-limit lock that must outlive Redis and restarts (see authority/lockbook.py)."""

    __tablename__ = "limit_locks"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    #: Unix time the lock ends.
    until: Mapped[float] = mapped_column(Float)


class Meta(Base):
    """Small facts about the installation (root-key check value, bootstrap done)."""

    __tablename__ = "meta"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
