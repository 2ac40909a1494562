"""Grants: which roles a user or group has at this destination, decided at run time.

:class:`GrantIndex` answers ``roles_for(identity, resource)`` from a list of grants (no I/O).
The grants come from a local TOML/YAML file (:class:`FileGrants`, for destinations that run
offline) or from the authority (:mod:`jot.destination.grants_client`).

Matching rules (:mod:`jot.api.roles`, the authority's too): a grant's subject is
``user:<name>`` (the token's ``name`` claim) or ``group:<name>``. A grant on ``web`` applies to
the whole destination and every sub-resource ``web.x``; a grant on ``web.x`` applies only to
``web.x`` (and its own children).
"""

from __future__ import annotations

import os
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

from jot.api.roles import Held, decide, expiry_of, resource_chain, revoked, roles_below
from jot.destination.settings import CACHE_SIZE

__all__ = [
    "FileGrants",
    "GrantAnswer",
    "GrantIndex",
    "GrantSource",
    "parse_grants",
    "resource_chain",
]


class GrantSource(Protocol):
    """Where a verifier's grants come from.

    A source may also have an ``index`` attribute: the current :class:`GrantIndex`, or None
    before the grants are known. A verifier then reuses the identity it decided for a cached
    token for as long as ``index`` is the same object; without one it decides every time.
    """

    def roles_for(self, name: str, groups: Iterable[str], resource: str) -> frozenset[str]: ...

    @property
    def mentioned_groups(self) -> frozenset[str]:
        """Groups that some grant names (``group:<name>``)."""
        ...


@dataclass(frozen=True, slots=True)
class GrantAnswer:
    """What the grants give one caller at one resource, from when it was asked until
    ``until``."""

    #: The roles held on the resource (and above it).
    roles: frozenset[str]
    #: The roles on each sub-resource below it (a Kubernetes destination's namespaces); shared
    #: by every request of the caller: read it, never change it.
    below: Mapping[str, frozenset[str]]
    #: When the next of the caller's grants lapses (None: none is time-bound): until then,
    #: every part of the answer holds.
    until: float | None


class GrantIndex:
    """Grants indexed by subject; immutable once built (a change of grants builds a new index,
    so a decision remembered with one never outlives the grants it came from)."""

    def __init__(
        self, grants: Iterable[Mapping[str, Any]] = (), revoked: Iterable[Any] = ()
    ) -> None:
        """``grants`` as the authority lists them (or a file); ``revoked``: its deny entries
        (:class:`jot.api.grants.Revoked`, or mappings of ``kind``, ``value``, ``until``)."""
        self._denied: dict[tuple[str, str], float] = {}
        for entry in revoked:
            found = entry if isinstance(entry, Mapping) else entry.model_dump()
            until = _epoch(found["until"])
            if until is not None:
                self._denied[(found["kind"], found["value"])] = until
        index: dict[str, list[Held]] = {}
        for grant in grants:
            held = Held(grant["resource"], grant["role"], _epoch(grant.get("expires")))
            index.setdefault(grant["subject"], []).append(held)
        self._index = index
        # Answers per caller, for tokens the verification cache does not hold (more callers
        # than it holds, or --cache-size 0): the same users and groups ask again and again.
        self._answers: dict[tuple[str, tuple[str, ...], str], GrantAnswer] = {}
        self.mentioned_groups = frozenset(
            subject.removeprefix("group:") for subject in index if subject.startswith("group:")
        )

    def __len__(self) -> int:
        return sum(len(v) for v in self._index.values())

    @property
    def index(self) -> GrantIndex:
        """Itself: the grants never change (see :class:`GrantSource`)."""
        return self

    def answer(
        self, name: str, groups: Iterable[str], resource: str, *, now: float | None = None
    ) -> GrantAnswer:
        """What the grants give ``name`` in ``groups`` at ``resource`` at ``now`` (default:
        the system clock): a time-bound grant stops applying at its end here too, without a
        new list from the authority."""
        current = time.time() if now is None else now
        groups = tuple(groups)
        key = (name, groups, resource)
        found = self._answers.get(key)
        if found is not None and (found.until is None or current < found.until):
            return found
        # The one decision (jot.api.roles.decide), as the authority's token endpoint makes it.
        answer = GrantAnswer(
            decide(name, groups, resource, self._index, now=current).roles,
            roles_below(name, groups, resource, self._index, now=current),
            expiry_of(name, groups, self._index, now=current),
        )
        if len(self._answers) >= CACHE_SIZE:
            self._answers.clear()  # Bounded; many distinct callers just start it over.
        self._answers[key] = answer
        return answer

    def roles_for(
        self, name: str, groups: Iterable[str], resource: str, *, now: float | None = None
    ) -> frozenset[str]:
        """The roles at ``resource`` at ``now`` (see :meth:`answer`)."""
        return self.answer(name, groups, resource, now=now).roles

    def roles_below(
        self, name: str, groups: Iterable[str], resource: str, *, now: float | None = None
    ) -> dict[str, frozenset[str]]:
        """Roles granted on each sub-resource below ``resource`` (namespaces, for
        Kubernetes)."""
        return dict(self.answer(name, groups, resource, now=now).below)

    def revoked(self, subject: str, jti: str, *, now: float | None = None) -> bool:
        """Whether the authority revoked this subject (its ``sub``) or this token (its
        ``jti``), in an entry that has not aged out at ``now``."""
        if not self._denied:
            return False  # The usual case: nothing revoked.
        return revoked(self._denied, subject, jti, now=time.time() if now is None else now)

    def expiry_of(
        self, name: str, groups: Iterable[str], *, now: float | None = None
    ) -> float | None:
        """When the next grant that applies to the caller lapses (None: none is time-bound):
        a decision remembered for a token must not outlive it."""
        return expiry_of(name, groups, self._index, now=now)


def _epoch(value: Any) -> float | None:
    """A grant's ``expires`` (a datetime from the authority's list, or ISO text) as epoch
    seconds."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.timestamp()


def parse_grants(data: Any, origin: str = "grants") -> list[dict[str, str]]:
    """Validate ``{"grants": [{"subject", "role", "resource"[, "expires"]}, …]}`` (also the
    ``items`` of a ``GrantList``); raises :class:`ValueError` with one line naming the bad
    entry. ``expires`` (a time with its zone) makes a grant time-bound, as the authority's."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{origin}: expected a table/mapping at the top")
    items = data.get("grants", data.get("items"))
    if not isinstance(items, list):
        raise ValueError(f"{origin}: expected a list named 'grants'")
    grants = []
    for number, item in enumerate(items, 1):
        fields = {
            k: item.get(k) if isinstance(item, Mapping) else None
            for k in ("subject", "role", "resource")
        }
        if not all(isinstance(v, str) and v for v in fields.values()):
            raise ValueError(f"{origin}: grant #{number} needs string subject, role and resource")
        if not fields["subject"].startswith(("user:", "group:")):  # type: ignore[union-attr]
            raise ValueError(f"{origin}: grant #{number}: subject must start with user: or group:")
        grant = {k: str(v) for k, v in fields.items()}
        if isinstance(item, Mapping) and item.get("expires") is not None:
            grant["expires"] = _file_expiry(item["expires"], f"{origin}: grant #{number}")
        grants.append(grant)
    return grants


def _file_expiry(value: Any, where: str) -> str:
    """A file grant's ``expires`` as ISO text with its zone. A grant written with an end must
    never be read as one without (it would hold for good), nor in this machine's zone."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{where}: expires must be a time with its zone (2026-01-15T18:00:00Z)")
    return value.isoformat()


def _load(path: Path) -> GrantIndex:
    text = path.read_bytes()
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text.decode("utf-8"))
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid {path.suffix.lstrip('.').upper() or 'YAML'}") from exc
    return GrantIndex(parse_grants(data, str(path)))


class FileGrants:
    """Grants from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file.

    The file is re-read when its modification time changes (checked at most every
    ``check_interval`` seconds); a broken edit keeps the last good grants.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._interval = check_interval
        self._mtime = self.path.stat().st_mtime_ns
        self._index = _load(self.path)  # A broken file at start-up is the user's mistake: raise.
        self._checked = clock()
        self._lock = threading.Lock()

    @property
    def index(self) -> GrantIndex:
        now = self._clock()
        if now - self._checked >= self._interval:
            with self._lock:
                self._checked = now
                self._reload()
        return self._index

    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
            if mtime != self._mtime:
                self._index, self._mtime = _load(self.path), mtime
        except (OSError, ValueError):
            pass  # Keep the last good grants; the next check tries again.

    def roles_for(
        self, name: str, groups: Iterable[str], resource: str, *, now: float | None = None
    ) -> frozenset[str]:
        return self.index.roles_for(name, groups, resource, now=now)

    @property
    def mentioned_groups(self) -> frozenset[str]:
        return self.index.mentioned_groups
