"""``jot server admin-key``: a new admin access key, made on the host, for a lost one.

Only the host's operator can run it: it needs the database and the root key, and refuses
unless the root key is this database's. Nothing is lost: the ``admin`` identity (or another
one named with ``--name``) keeps everything; it gets the ``admin`` role on ``jot`` back if it
lost it, and a new key that expires like the bootstrap key. It is audited
(``admin_key.recovered``); running servers accept the key at once.
"""

from __future__ import annotations

from sqlalchemy import select, update

from jot.api.identities import fold_name
from jot.authority import audit
from jot.authority.access import JOT_DESTINATION
from jot.authority.bootstrap import add_admin_grant, add_admin_key, jot_destination
from jot.authority.clock import Clock, to_datetime
from jot.authority.credentials import new_id
from jot.authority.db import Database
from jot.authority.models import Grant, Identity, Meta, Revision
from jot.authority.rootkey import RootKey, RootKeyError
from jot.authority.settings import Settings

__all__ = ["recover_admin_key"]


def recover_admin_key(
    db: Database, root: RootKey, settings: Settings, clock: Clock, name: str
) -> str:
    """A new admin key for the person ``name`` (made when missing); returns the key.

    :raises RootKeyError: ``root`` is not this database's root key, or it has none yet.
    """
    with db.transaction(write=True) as session:
        check = session.get(Meta, "root_key_check")
        if check is None:
            raise RootKeyError("this database was never started: run `jot server` first")
        if not root.matches(check.value):
            raise RootKeyError(
                "the root key does not match this database (wrong root.key or JOT_ROOT_KEY)"
            )
        now = to_datetime(clock())
        identity = session.scalars(
            select(Identity).where(Identity.name_key == fold_name(name))
        ).first()
        if identity is None:
            identity = Identity(
                id=new_id(), name=name, kind="user", password_hash=None, created=now, updated=now
            )
            session.add(identity)
            session.flush()
        granted = session.scalars(
            select(Grant.id).where(
                Grant.identity_id == identity.id,
                Grant.role == "admin",
                Grant.resource == JOT_DESTINATION,
            )
        ).first()
        if granted is None:
            add_admin_grant(session, identity, jot_destination(session, now), now)
            # Destinations watching the grants see the change (the revision behind ETags).
            session.execute(
                update(Revision).where(Revision.name == "grants").values(value=Revision.value + 1)
            )
        key_id, full = add_admin_key(session, identity, settings, now, "recovered")
        audit.record(
            session, now, "admin_key.recovered", actor=None, target=name, client="host",
            detail={"access_key": key_id, "admin_grant_restored": granted is None},
        )  # fmt: skip
        return full
