"""Signing keys in the database, with an in-process cache for the hot paths.

The schedule itself is pure (:mod:`jot.authority.schedule`); this module reads and writes the
rows. Creating and revoking keys happens under a cross-process lock (a PostgreSQL advisory
lock, or SQLite's write lock), so several replicas never end with two signing keys.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jot.api.claims import MAX_LIFETIME
from jot.api.keys import SigningKey as SigningKeyOut
from jot.authority import audit, signing
from jot.authority.clock import Clock, to_datetime
from jot.authority.db import Database, advisory_lock
from jot.authority.models import SigningKey
from jot.authority.rootkey import RootKey
from jot.authority.schedule import (
    KeyView,
    Schedule,
    new_key_activation,
    published,
    retires,
    signing_key,
    state,
)
from jot.authority.settings import Settings
from jot.jose import Key

__all__ = ["KEY_LOCK", "Keyring", "NoSigningKeyError", "schedule_for"]

#: The advisory lock under which signing keys are created, revoked or re-encrypted.
KEY_LOCK = 1


class NoSigningKeyError(Exception):
    """No key can sign right now (should not happen once the keyring was refreshed)."""


@dataclass(frozen=True)
class _Row:
    view: KeyView
    alg: str
    created: datetime
    public: dict[str, Any]
    private_enc: bytes


def schedule_for(settings: Settings) -> Schedule:
    cache = timedelta(seconds=settings.jwks_max_age)
    return Schedule(
        rotation_period=timedelta(seconds=settings.rotation_period),
        # One cache period, plus the reload interval of other replicas, plus a minute.
        publish_ahead=cache + timedelta(seconds=math.ceil(settings.key_reload_interval) + 60),
        # Every token a retired key signed has expired (the longest lifetime, plus skew).
        grace=timedelta(seconds=MAX_LIFETIME + settings.clock_skew) + cache,
    )


class Keyring:
    def __init__(self, db: Database, root: RootKey, settings: Settings, clock: Clock) -> None:
        self._db, self._root, self._clock = db, root, clock
        self._alg = settings.signing_alg
        self._reload = settings.key_reload_interval
        self.schedule = schedule_for(settings)
        self._lock = threading.Lock()
        self._rows: list[_Row] = []
        self._loaded = -float("inf")
        self._private: dict[str, Key] = {}
        # The serialised JWKS, when it was made (monotonic) and for which clock second: the
        # set depends on the injected clock, which tests move faster than real time.
        self._jwks_cache: tuple[float, int, bytes] | None = None

    def close(self) -> None:
        self._db.dispose()

    def now(self) -> datetime:
        return to_datetime(self._clock())

    def refresh(self, *, force: bool = False, create: bool = True) -> None:
        """Reload the rows when stale; with ``create``, make the next key when it is due.

        ``create=False`` is for callers inside a writing transaction: SQLite allows one
        writer, so creating a key there would wait on the caller's own lock.
        """
        with self._lock:
            if force or time.monotonic() - self._loaded >= self._reload:
                self._rows, self._loaded = self._read(), time.monotonic()
                self._jwks_cache = None
            views = [row.view for row in self._rows]
            if create and new_key_activation(views, self.now(), self.schedule) is not None:
                self._ensure()
                self._rows, self._loaded = self._read(), time.monotonic()

    def signer(self) -> Key:
        """The key that signs now. Key creation is left to :meth:`refresh` callers outside
        request transactions (start-up, the upkeep task, JWKS requests)."""
        self.refresh(create=False)
        rows, now = self._rows, self.now()
        current = signing_key([row.view for row in rows], now)
        if current is None:
            raise NoSigningKeyError("no signing key is active")
        key = self._private.get(current.kid)
        if key is None:
            row = next(row for row in rows if row.view.kid == current.kid)
            plain = self._root.decrypt(row.private_enc, context=current.kid.encode())
            key = self._private[current.kid] = signing.load_private(plain)
        return key

    def cached_signer(self) -> Key | None:
        """:meth:`signer` when that needs no I/O (rows fresh, key already decrypted), else
        ``None``: for callers on the event loop."""
        if time.monotonic() - self._loaded >= self._reload:
            return None
        current = signing_key([row.view for row in self._rows], self.now())
        return None if current is None else self._private.get(current.kid)

    def jwks(self) -> dict[str, Any]:
        self.refresh()
        views, now = [row.view for row in self._rows], self.now()
        keys = [row.public for row in self._rows if published(views, row.view, now, self.schedule)]
        return {"keys": keys}

    def cached_jwks(self) -> bytes | None:
        """The serialised JWKS when it is at most one reload interval old (no I/O)."""
        entry = self._jwks_cache
        fresh = entry is not None and time.monotonic() - entry[0] < self._reload
        if entry is not None and fresh and entry[1] == int(self._clock()):
            return entry[2]
        return None

    def jwks_json(self) -> bytes:
        cached = self.cached_jwks()
        if cached is not None:
            return cached
        body = json.dumps(self.jwks(), separators=(",", ":")).encode()
        self._jwks_cache = (time.monotonic(), int(self._clock()), body)
        return body

    def listing(self, session: Session) -> list[SigningKeyOut]:
        """Every key row as the admin API shows it, read in the caller's transaction."""
        rows = _rows(session)
        views, now, grace = [row.view for row in rows], self.now(), self.schedule.grace
        out = []
        for row in rows:
            end = retires(views, row.view)
            until = None if end is None or row.view.revoked else end + grace
            out.append(
                SigningKeyOut(
                    kid=row.view.kid,
                    alg=row.alg,
                    state=state(views, row.view, now),
                    created=row.created,
                    activates=row.view.activates,
                    retires=end,
                    published_until=until if not row.view.revoked else row.view.revoked,
                )
            )
        return out

    def rotate_now(self, session: Session, *, actor: str | None, client: str | None) -> str:
        """Emergency rotation inside the caller's transaction: revoke the signing key at once
        and activate a fresh one. Returns the new kid."""
        advisory_lock(session, KEY_LOCK)
        now = self.now()
        views = [_view(row) for row in session.scalars(select(SigningKey))]
        current = signing_key(views, now)
        if current is not None:
            session.execute(
                update(SigningKey).where(SigningKey.kid == current.kid).values(revoked=now)
            )
        kid = self._create(session, now)
        audit.record(
            session,
            now,
            "signing_key.rotated",
            actor=actor,
            target=kid,
            client=client,
            detail={"revoked": current.kid if current else None},
        )
        self._loaded = -float("inf")
        return kid

    def _read(self) -> list[_Row]:
        with self._db.transaction(write=False) as session:
            return _rows(session)

    def _ensure(self) -> None:
        with self._db.transaction(write=True) as session:
            advisory_lock(session, KEY_LOCK)
            now = self.now()
            views = [_view(row) for row in session.scalars(select(SigningKey))]
            activation = new_key_activation(views, now, self.schedule)
            if activation is not None:
                kid = self._create(session, activation)
                audit.record(
                    session,
                    now,
                    "signing_key.created",
                    actor=None,
                    target=kid,
                    client=None,
                    detail={"activates": activation.isoformat()},
                )

    def _create(self, session: Session, activates: datetime) -> str:
        key = signing.generate(self._alg)
        kid = key.kid or key.thumbprint()
        session.add(
            SigningKey(
                kid=kid,
                alg=self._alg,
                public_jwk=json.dumps(signing.public_jwk(key)),
                private_enc=self._root.encrypt(signing.private_json(key), context=kid.encode()),
                created=self.now(),
                activates=activates,
                revoked=None,
            )
        )
        session.flush()
        return kid


def _view(row: SigningKey) -> KeyView:
    return KeyView(kid=row.kid, activates=row.activates, revoked=row.revoked)


def _rows(session: Session) -> list[_Row]:
    return [
        _Row(_view(r), r.alg, r.created, json.loads(r.public_jwk), r.private_enc)
        for r in session.scalars(select(SigningKey).order_by(SigningKey.activates))
    ]
