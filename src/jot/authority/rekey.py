"""Move every secret at rest to a new root key: ``jot server rotate-root-key``.

Each sealed value is opened with the configured root key and sealed again, with the same
associated data, under the new one; the root key's check value follows. All of it happens
in one transaction, under the signing-key lock: the database holds either the old key's
secrets or the new key's, never a mixture. Servers keep the root key they started with, so
every server must be stopped first and started again with the new key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from jot.authority import audit
from jot.authority.db import Database, advisory_lock
from jot.authority.keyring import KEY_LOCK
from jot.authority.models import Meta, SigningKey
from jot.authority.oidc.models import DeviceRequest, LoginAttempt, Provider, ProviderSession
from jot.authority.oidc.sealed import (
    context,
    device_where,
    login_where,
    provider_where,
    session_where,
)
from jot.authority.rootkey import RootKey, RootKeyError

__all__ = ["SEALED_COLUMNS", "check_sealed", "rotate_root_key"]

#: Every column sealed under the root key: the model, the column, and the associated data a
#: row's value is bound to (as the code that seals and opens it binds it).
SEALED_COLUMNS: tuple[tuple[Any, str, Callable[[Any], bytes]], ...] = (
    (SigningKey, "private_enc", lambda row: row.kid.encode()),
    (Provider, "client_secret_enc", lambda row: context(provider_where(row.id))),
    (ProviderSession, "refresh_enc", lambda row: context(session_where(row.access_key_id))),
    (LoginAttempt, "result_enc", lambda row: context(login_where(row.state_hash))),
    (DeviceRequest, "result_enc", lambda row: context(device_where(row.id))),
)


def check_sealed(db: Database, root: RootKey) -> None:
    """Open every sealed value once, at start: a value sealed under another root key (a
    server that kept an old key while the key was rotated, a restored table) stops the
    start with one line instead of failing request after request.

    :raises RootKeyError: naming the first column whose value does not open.
    """
    with db.transaction(write=False) as session:
        for model, column, bound_to in SEALED_COLUMNS:
            for row in session.scalars(select(model).where(getattr(model, column).is_not(None))):
                try:
                    root.decrypt(getattr(row, column), context=bound_to(row))
                except RootKeyError:
                    raise RootKeyError(
                        f"a secret in {model.__tablename__}.{column} does not open with this "
                        "root key (sealed under another one?): restore the root key it was "
                        "sealed with (docs/key-rotation.md)"
                    ) from None


def rotate_root_key(db: Database, old: RootKey, new: RootKey, now: datetime) -> int:
    """Seal every secret under ``new`` instead of ``old``; return how many were moved.

    :raises RootKeyError: ``old`` is not this database's root key, ``new`` already is, or a
        value does not open (nothing is changed then).
    """
    with db.transaction(write=True) as session:
        advisory_lock(session, KEY_LOCK)
        check = session.get(Meta, "root_key_check")
        if check is None:
            raise RootKeyError("this database has no root key yet: start the server once first")
        if not old.matches(check.value):
            raise RootKeyError(
                "the configured root key does not match this database (wrong root.key or "
                "JOT_ROOT_KEY)"
            )
        if new.matches(check.value):
            raise RootKeyError("the new root key is the one this database already uses")
        moved = 0
        for model, column, bound_to in SEALED_COLUMNS:
            rows = session.scalars(select(model).where(getattr(model, column).is_not(None)))
            for row in rows:
                associated = bound_to(row)
                try:
                    plain = old.decrypt(getattr(row, column), context=associated)
                except RootKeyError:
                    raise RootKeyError(
                        f"a value in {model.__tablename__}.{column} does not open with the "
                        "configured root key; nothing was changed"
                    ) from None
                setattr(row, column, new.encrypt(plain, context=associated))
                moved += 1
        check.value = new.check_value()
        audit.record(
            session, now, "root_key.rotated", actor=None, target=None, client=None,
            detail={"secrets": moved},
        )  # fmt: skip
    return moved
