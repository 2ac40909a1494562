"""First start: the ``jot`` destination, the ``admin`` identity and its one-time access key."""

from __future__ import annotations

from sqlalchemy import select

from jot.authority import audit
from jot.authority.access import JOT_DESTINATION
from jot.authority.clock import Clock, to_datetime
from jot.authority.credentials import hash_secret, new_access_key, new_id, parse_access_key
from jot.authority.db import Database, advisory_lock
from jot.authority.models import AccessKey, Destination, Grant, Identity, Meta
from jot.authority.rootkey import RootKey, RootKeyError
from jot.authority.settings import Settings

__all__ = ["BootstrapError", "bootstrap", "check_root_key"]

_BOOTSTRAP_LOCK = 2
ADMIN = "admin"


class BootstrapError(Exception):
    """The operator-supplied bootstrap key cannot be used."""


def _given_key(settings: Settings) -> str | None:
    if settings.bootstrap_key is not None:
        return settings.bootstrap_key.get_secret_value().strip()
    if settings.bootstrap_key_file is not None:
        try:
            return settings.bootstrap_key_file.read_text().strip()
        except OSError as exc:
            raise BootstrapError(
                f"cannot read {settings.bootstrap_key_file}: {exc.strerror}"
            ) from exc
    return None


def bootstrap(db: Database, settings: Settings, clock: Clock) -> str | None:
    """Set up an empty database. Returns the generated admin key (to print once), or
    ``None`` when the database was already set up or the operator supplied the key."""
    given = _given_key(settings)
    if given is not None and parse_access_key(given) is None:
        raise BootstrapError("the bootstrap key must look like jot_ak_<12 chars>_<32 chars>")
    with db.transaction(write=True) as session:
        advisory_lock(session, _BOOTSTRAP_LOCK)
        now = to_datetime(clock())
        jot = session.scalars(
            select(Destination).where(Destination.name == JOT_DESTINATION)
        ).first()
        if jot is None:
            jot = Destination(
                id=new_id(),
                name=JOT_DESTINATION,
                kind="jot",
                lifetime=300,
                group_narrowing="grants",
                created=now,
                updated=now,
            )
            session.add(jot)
        if session.scalars(select(Identity.id).limit(1)).first() is not None:
            return None
        if given is not None:
            key_id, secret = parse_access_key(given) or ("", "")
            full = given
        else:
            key_id, secret, full = new_access_key()
        admin = Identity(
            id=new_id(), name=ADMIN, kind="user", password_hash=None, created=now, updated=now
        )
        session.add(admin)
        session.flush()
        session.add(
            Grant(
                id=new_id(),
                identity_id=admin.id,
                role="admin",
                resource=JOT_DESTINATION,
                destination_id=jot.id,
                created=now,
            )
        )
        session.add(
            AccessKey(
                id=key_id,
                identity_id=admin.id,
                name="bootstrap",
                secret_hash=hash_secret(secret),
                created=now,
                expires=None,
                inactivity_timeout=None,
                last_used=now,
                revoked=None,
            )
        )
        audit.record(
            session,
            now,
            "bootstrap",
            actor=None,
            target=ADMIN,
            client=None,
            detail={"access_key": key_id},
        )
        return full if given is None else None


def check_root_key(db: Database, root: RootKey) -> None:
    """Store the root key's check value on first start; refuse a different key later."""
    with db.transaction(write=True) as session:
        row = session.get(Meta, "root_key_check")
        if row is None:
            session.add(Meta(name="root_key_check", value=root.check_value()))
        elif not root.matches(row.value):
            raise RootKeyError(
                "the root key does not match this database (wrong root.key or JOT_ROOT_KEY)"
            )
