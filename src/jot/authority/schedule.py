"""The signing-key schedule as pure functions of the key rows and the clock.

A key signs from its ``activates`` time until the next key activates ("retires"). A new key
is created at least ``publish_ahead`` (one JWKS cache period plus margin) before it activates,
so every verifier has seen it before a token carries its ``kid``. A retired key stays
published for ``grace`` (longest token lifetime + clock skew + JWKS cache period) so that
every token it signed can still be verified. A revoked key disappears at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "KeyView",
    "Schedule",
    "new_key_activation",
    "published",
    "retires",
    "signing_key",
    "state",
]


@dataclass(frozen=True)
class KeyView:
    """What the schedule needs to know about a key row."""

    kid: str
    activates: datetime
    revoked: datetime | None = None


@dataclass(frozen=True)
class Schedule:
    rotation_period: timedelta
    publish_ahead: timedelta
    grace: timedelta


def _live(keys: Sequence[KeyView]) -> list[KeyView]:
    return sorted((k for k in keys if k.revoked is None), key=lambda k: (k.activates, k.kid))


def signing_key(keys: Sequence[KeyView], now: datetime) -> KeyView | None:
    """The key that signs at ``now``: the live key that activated last."""
    active = [k for k in _live(keys) if k.activates <= now]
    return active[-1] if active else None


def retires(keys: Sequence[KeyView], key: KeyView) -> datetime | None:
    """When ``key`` stops signing: its revocation or its successor's activation."""
    if key.revoked is not None:
        return key.revoked
    later = [k.activates for k in _live(keys) if k.activates > key.activates]
    return min(later) if later else None


def published(keys: Sequence[KeyView], key: KeyView, now: datetime, schedule: Schedule) -> bool:
    """Whether ``key`` belongs in the JWKS at ``now``."""
    if key.revoked is not None:
        return False
    end = retires(keys, key)
    return end is None or now < end + schedule.grace


def state(keys: Sequence[KeyView], key: KeyView, now: datetime) -> str:
    if key.revoked is not None:
        return "revoked"
    if key.activates > now:
        return "next"
    current = signing_key(keys, now)
    return "active" if current is not None and current.kid == key.kid else "retired"


def new_key_activation(
    keys: Sequence[KeyView], now: datetime, schedule: Schedule
) -> datetime | None:
    """The activation time of the key to create now, or ``None`` when none is needed."""
    current = signing_key(keys, now)
    pending = [k for k in _live(keys) if k.activates > now]
    if current is None:
        # Nothing can sign: a fresh install or an emergency. No verifier can hold a token of
        # a key that never existed, so the new key signs at once.
        return now
    if pending:
        return None
    due = current.activates + schedule.rotation_period
    if now < due - schedule.publish_ahead:
        return None
    return max(due, now + schedule.publish_ahead)
