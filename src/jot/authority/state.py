"""The long-lived parts of one authority process, shared by every request."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from jot.authority.audit import GroupCommit, Refusals
from jot.authority.authcache import (
    AuthCache,
    GroupGrants,
    GroupNames,
    MemberGroups,
    Principal,
    TokenDecision,
)
from jot.authority.clock import Clock
from jot.authority.csrf import Forms
from jot.authority.db import Database
from jot.authority.keyring import Keyring
from jot.authority.lanes import Lanes
from jot.authority.limits import Limits
from jot.authority.notify import Notifier
from jot.authority.settings import Settings

__all__ = ["Authority", "ChangeCounter"]

# Threads of token checks (measured with bench/authority.py's cache-miss row).
_CHECK_THREADS_SQLITE, _CHECK_THREADS = 1, 8


class ChangeCounter:
    """Bumped in-process when grants change, so local long-polls answer at once (other
    processes' changes are seen by polling the database revision)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def bump(self) -> None:
        with self._lock:
            self.value += 1


@dataclass
class Authority:
    settings: Settings
    db: Database
    keyring: Keyring
    limits: Limits
    clock: Clock
    #: CSRF tokens of the browser forms.
    forms: Forms
    grants_changed: ChangeCounter = field(default_factory=ChangeCounter)
    auth_cache: AuthCache[Principal] = field(default_factory=AuthCache)
    #: Token decisions (destination found, grant held, groups narrowed), same rules.
    decisions: AuthCache[TokenDecision] = field(default_factory=AuthCache)
    #: The names of groups that key checks found (never stale: see GroupNames).
    group_names: GroupNames = field(default_factory=GroupNames)
    #: Small destinations' group grants, by the grants' revision (never stale: see there).
    group_grants: GroupGrants = field(default_factory=GroupGrants)
    #: Identities' groups, by the memberships' revision (never stale: see there).
    member_groups: MemberGroups = field(default_factory=MemberGroups)
    #: Repeated refusals of anonymous requests, folded into few audit rows.
    refusals: Refusals = field(default_factory=Refusals)
    #: Audit rows of requests that write nothing else, committed in batches.
    audit_log: GroupCommit = field(init=False)
    #: Access-request events go to ``webhook_url`` when it is set.
    notifier: Notifier | None = field(init=False)
    #: The threads of token checks that miss the caches (:mod:`jot.authority.fastpath`): a
    #: few of their own, in batches, since handing each check to anyio's pool of 40 threads
    #: cost more CPU (GIL hand-offs, wake-ups) than the check. SQLite's reads need the GIL
    #: anyway; PostgreSQL's wait on the network, so more of them overlap.
    checks: Lanes = field(init=False)

    def forget_checks(self) -> None:
        """Drop every cached check (after a write of this process: it shows at once)."""
        self.auth_cache.clear()
        self.decisions.clear()

    def __post_init__(self) -> None:
        self.audit_log = GroupCommit(self.db)
        workers = _CHECK_THREADS_SQLITE if self.db.is_sqlite else _CHECK_THREADS
        self.checks = Lanes(workers, "jot-token-check")
        url, secret = self.settings.webhook_url, self.settings.webhook_secret
        self.notifier = None
        if url is not None and secret is not None:
            self.notifier = Notifier(url, secret.get_secret_value().encode())

    def close(self) -> None:
        """Release database connections (and the Redis client, if any)."""
        self.audit_log.close()
        self.checks.close()
        if self.notifier is not None:
            self.notifier.close()
        self.db.dispose()
        self.keyring.close()
        closer = getattr(self.limits.store, "close", None)
        if closer is not None:
            closer()
