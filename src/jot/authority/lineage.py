"""Access-key lineage: a credential never outlives the credential that made it.

A key that an identity makes for itself, with one of its keys, is *derived* from that key:

- it expires no later than its parent, and idles out no later (:func:`bounded`);
- revoking a key revokes every key derived from it, transitively (:func:`revoke`) — so a
  provider login that fails revalidation, a ``jot logout`` or an admin's revocation also
  ends the keys that were made from it;
- it shares its line's provider session (``origin_id``): a token asked for with any key of
  the line revalidates the login that started it (:mod:`jot.authority.oidc.revalidate`).

Keys made by a login, by the bootstrap, or by an admin for *another* identity start a line
of their own: that identity's access does not depend on the admin's session.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jot.authority.models import AccessKey

__all__ = ["bounded", "origin_of", "revoke", "revoke_identity"]


def bounded(
    parent: AccessKey, expires: datetime | None, idle: int | None
) -> tuple[datetime | None, int | None]:
    """The requested expiry and inactivity timeout (``None``: never), capped by the parent's."""
    if parent.expires is not None and (expires is None or expires > parent.expires):
        expires = parent.expires
    if parent.inactivity_timeout and (not idle or idle > parent.inactivity_timeout):
        idle = parent.inactivity_timeout
    return expires, idle


def origin_of(key: AccessKey) -> str:
    """The first key of ``key``'s line (the key itself when it starts one)."""
    return key.origin_id or key.id


def revoke(
    session: Session, key_ids: Iterable[str], now: datetime, *, spare: str | None = None
) -> list[str]:
    """Revoke ``key_ids`` and every key derived from them, transitively, but never ``spare``;
    returns the ids this revoked (keys revoked before are left as they were).

    Each generation is locked before its children are looked for, and a key is made under a
    lock on its parent (:mod:`jot.authority.handlers.keys`): a key made from one of these at
    the same moment is either committed first (and found here) or finds its parent revoked.
    """
    revoked: list[str] = []
    frontier = [key for key in dict.fromkeys(key_ids) if key != spare]
    seen = {*frontier, spare}
    while frontier:
        live = select(AccessKey.id).where(AccessKey.id.in_(frontier), AccessKey.revoked.is_(None))
        ids = list(session.scalars(live.with_for_update()))
        if ids:
            session.execute(update(AccessKey).where(AccessKey.id.in_(ids)).values(revoked=now))
            revoked.extend(ids)
        children = session.scalars(select(AccessKey.id).where(AccessKey.parent_id.in_(frontier)))
        frontier = [child for child in children if child not in seen]
        seen.update(frontier)
    return sorted(revoked)


def revoke_identity(
    session: Session, identity_id: str, now: datetime, *, keep: str | None = None
) -> list[str]:
    """Revoke every live key of the identity but ``keep`` (the key in hand, when a person
    changes a password: a thief's login and the keys made from it end, the person's session
    does not, even when it was made from one of them)."""
    stmt = select(AccessKey.id).where(
        AccessKey.identity_id == identity_id, AccessKey.revoked.is_(None)
    )
    return revoke(session, session.scalars(stmt), now, spare=keep)
