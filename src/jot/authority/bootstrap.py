"""First start: the ``jot`` destination, the ``admin`` identity and its one-time access key.

What a start checks before it creates anything (:func:`preflight`), and what a failed first
start takes back (:func:`undone_on_failure`), live here too: a start that fails leaves no
half-made ``jot.db`` or ``root.key`` behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from jot.api.claims import DEFAULT_LIFETIME
from jot.authority import audit
from jot.authority.access import JOT_DESTINATION
from jot.authority.clock import Clock, to_datetime
from jot.authority.credentials import hash_secret, new_access_key, new_id, parse_access_key
from jot.authority.db import Database, advisory_lock
from jot.authority.models import AccessKey, Destination, Grant, Identity, Meta
from jot.authority.rekey import check_sealed
from jot.authority.rootkey import RootKey, RootKeyError
from jot.authority.settings import Settings

__all__ = [
    "ADMIN",
    "BootstrapError",
    "add_admin_grant",
    "add_admin_key",
    "bootstrap",
    "check_root_key",
    "jot_destination",
    "preflight",
    "undone_on_failure",
]

_BOOTSTRAP_LOCK = 2
ADMIN = "admin"


class BootstrapError(Exception):
    """The operator-supplied bootstrap key cannot be used, or the data dir cannot be written."""


def preflight(settings: Settings) -> None:
    """Check, before anything is created, what a start needs: a usable supplied bootstrap
    key and, when files go there, a data directory this process can write.

    :raises BootstrapError: with one line naming the cause.
    """
    _checked_key(settings)
    if settings.is_sqlite or _root_key_file_to_create(settings) is not None:
        _check_writable(settings.data_dir)


def _checked_key(settings: Settings) -> tuple[str, str, str] | None:
    given = _given_key(settings)
    if given is None:
        return None
    parsed = parse_access_key(given)
    if parsed is None:
        raise BootstrapError("the bootstrap key must look like jot_ak_<12 chars>_<32 chars>")
    return parsed[0], parsed[1], given


def _check_writable(data_dir: Path) -> None:
    # Really writing is the only test that holds for root (who passes every permission
    # check) and for read-only file systems alike.
    probe = data_dir / f".jot-write-test.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe.write_bytes(b"")
        probe.unlink()
        database = data_dir / "jot.db"
        if database.exists():
            os.close(os.open(database, os.O_WRONLY))
    except OSError as exc:
        raise BootstrapError(
            f"data dir {data_dir} is not writable ({exc.strerror or exc})"
        ) from None


def _root_key_file_to_create(settings: Settings) -> Path | None:
    if settings.root_key is not None or settings.root_key_file is not None:
        return None
    path = settings.data_dir / "root.key"
    return None if path.exists() else path


@contextlib.contextmanager
def undone_on_failure(settings: Settings) -> Iterator[None]:
    """Remove the database files and ``root.key`` that a failed start created (never a file
    that was there before, and never the WAL of a database that was there before)."""
    made: list[Path] = []
    database = settings.sqlite_file
    if database is not None and not database.exists():
        made += [database, *(Path(f"{database}{end}") for end in ("-wal", "-shm", "-journal"))]
    root_key = _root_key_file_to_create(settings)
    if root_key is not None:
        made.append(root_key)
    try:
        yield
    except BaseException:
        for path in made:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise


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
    given = _checked_key(settings)
    with db.transaction(write=True) as session:
        advisory_lock(session, _BOOTSTRAP_LOCK)
        now = to_datetime(clock())
        jot = jot_destination(session, now)
        if session.scalars(select(Identity.id).limit(1)).first() is not None:
            return None
        admin = Identity(
            id=new_id(), name=ADMIN, kind="user", password_hash=None, created=now, updated=now
        )
        session.add(admin)
        session.flush()
        add_admin_grant(session, admin, jot, now)
        key_id, full = add_admin_key(session, admin, settings, now, "bootstrap", given)
        audit.record(
            session, now, "bootstrap", actor=None, target=ADMIN, client=None,
            detail={"access_key": key_id},
        )  # fmt: skip
        return full if given is None else None


def jot_destination(session: Session, now: datetime) -> Destination:
    """The authority's own destination, made on first use."""
    jot = session.scalars(select(Destination).where(Destination.name == JOT_DESTINATION)).first()
    if jot is None:
        jot = Destination(
            id=new_id(), name=JOT_DESTINATION, kind="jot", lifetime=DEFAULT_LIFETIME,
            group_narrowing="grants", created=now, updated=now,
        )  # fmt: skip
        session.add(jot)
    return jot


def add_admin_grant(session: Session, identity: Identity, jot: Destination, now: datetime) -> Grant:
    grant = Grant(
        id=new_id(), identity_id=identity.id, role="admin", resource=JOT_DESTINATION,
        destination_id=jot.id, created=now,
    )  # fmt: skip
    session.add(grant)
    return grant


def add_admin_key(
    session: Session,
    identity: Identity,
    settings: Settings,
    now: datetime,
    label: str,
    given: tuple[str, str, str] | None = None,
) -> tuple[str, str]:
    """A new access key of ``identity`` that expires after ``bootstrap_key_lifetime``: a key
    for the first steps (make a named admin), not for ever. Returns ``(id, full key)``."""
    key_id, secret, full = given or new_access_key()
    session.add(
        AccessKey(
            id=key_id, identity_id=identity.id, name=label, secret_hash=hash_secret(secret),
            created=now, expires=now + timedelta(seconds=settings.bootstrap_key_lifetime),
            inactivity_timeout=None, last_used=now, revoked=None,
        )
    )  # fmt: skip
    return key_id, full


def check_root_key(db: Database, root: RootKey) -> None:
    """Store the root key's check value on first start; refuse a different key later, and
    a database holding any secret that this key does not open."""
    with db.transaction(write=True) as session:
        row = session.get(Meta, "root_key_check")
        if row is None:
            session.add(Meta(name="root_key_check", value=root.check_value()))
        elif not root.matches(row.value):
            raise RootKeyError(
                "the root key does not match this database (wrong root.key or JOT_ROOT_KEY)"
            )
    check_sealed(db, root)
