"""Which counters a failure feeds, and which of them refuse what: the abuse rules of
docs/security.md in one place.

The rules, each against a lock-out weapon or a guessing attack:

- **A valid access key is never refused.** Access keys are checked first (190 random bits,
  one indexed read); only a key that turned out invalid feeds the counters, per (address,
  key id) and per address, and only such a key is answered 429 instead of 401.
- **Passwords** are guessable, so their counters refuse *before* the check: per (address,
  name) after ``login_max_failures``; per address after ``login_address_max_failures``
  across all names (password spraying), and a success does not reset that one. Per name
  across all addresses (``login_account_max_failures``) nothing is refused, since anyone
  could use that to lock a person out: every attempt on that name is delayed by
  ``login_throttle_delay`` instead, and the right password gets through after the delay.
- **User codes** of the device flow (short, typed by people) refuse per address.
- **Anonymous starts** (device codes, provider logins), which write rows, are limited per
  address and in total.
"""

from __future__ import annotations

import threading
import time

from jot.authority.lockbook import LockBook
from jot.authority.ratelimit import Limiter, LimiterPolicy
from jot.authority.settings import Settings

__all__ = ["Limits"]

# At most this many throttled password checks wait at once per process; more are refused,
# so that a flood cannot hold every worker thread in a sleep.
_MAX_THROTTLED = 8


class Limits:
    def __init__(self, store: Limiter, settings: Settings, book: LockBook | None = None) -> None:
        self.store = store
        #: Where the locks that must outlive Redis and restarts are written.
        self.book = book

        def policy(max_failures: int) -> LimiterPolicy:
            return LimiterPolicy(
                max_failures=max_failures,
                window=settings.login_window,
                base=settings.lockout_base,
                cap=settings.lockout_max,
            )

        self._pair = policy(settings.login_max_failures)
        self._address = policy(settings.login_address_max_failures)
        self._account = policy(settings.login_account_max_failures)
        self._starts = policy(settings.anonymous_starts_per_address)
        self._all_starts = policy(settings.anonymous_starts_total)
        self._delay = settings.login_throttle_delay
        self._throttled = threading.BoundedSemaphore(_MAX_THROTTLED)

    # Passwords (logins and password changes count together).

    def password_turn(self, name: str, client: str | None) -> float:
        """Seconds to refuse a password check for, or 0 to check it now. On a throttled
        account this first sleeps the delay (in the caller's thread: at most
        ``_MAX_THROTTLED`` at once, the rest are refused)."""
        pair, address, account = _password_keys(name, client)
        refuse = max(self.store.retry_after(pair), self.store.retry_after(address))
        if refuse > 0 or self.store.retry_after(account) <= 0 or self._delay <= 0:
            return refuse
        if not self._throttled.acquire(blocking=False):
            return self._delay
        try:
            time.sleep(self._delay)
        finally:
            self._throttled.release()
        return 0.0

    def password_failed(self, name: str, client: str | None) -> None:
        pair, address, account = _password_keys(name, client)
        self._count(pair, self._pair)
        self._count(address, self._address)
        self._count(account, self._account)

    def password_ok(self, name: str, client: str | None) -> None:
        # The address counter stays: a spraying attacker's own account must not reset it.
        pair, _, account = _password_keys(name, client)
        for key in (pair, account):
            self.store.clear(key)
            if self.book is not None:
                self.book.forget(key)

    # Access keys.

    def bad_key(self, client: str | None, key_id: str) -> float:
        """Count an invalid access key; seconds to answer 429 with, or 0 for a plain 401."""
        pair, address = f"key:{_addr(client)}|{key_id}", f"key-addr:{_addr(client)}"
        wait = max(self.store.retry_after(pair), self.store.retry_after(address))
        self._count(pair, self._pair)
        self._count(address, self._address)
        return wait

    # Device-flow user codes.

    def before_user_code(self, client: str | None) -> float:
        return self.store.retry_after(f"code:{_addr(client)}")

    def user_code_failed(self, client: str | None) -> None:
        self._count(f"code:{_addr(client)}", self._pair)

    def _count(self, key: str, policy: LimiterPolicy) -> None:
        """Count a failure; a lock it sets is also written to the database (anonymous
        starts are not: their locks are flood control, not worth a write)."""
        locked = self.store.count(key, policy)
        if locked > 0 and self.book is not None:
            self.book.save(key, locked)

    def restore(self) -> None:
        """Load the live locks from the database (at start)."""
        if self.book is not None:
            for key, seconds in self.book.live():
                self.store.lock(key, seconds)

    # Anonymous requests that write rows.

    def anonymous_start(self, client: str | None) -> float:
        """Count one anonymous start; seconds to refuse it for, or 0 to let it write."""
        address, total = f"start:{_addr(client)}", "start:*"
        wait = max(self.store.retry_after(address), self.store.retry_after(total))
        if wait > 0:
            return wait
        self.store.count(address, self._starts)
        self.store.count(total, self._all_starts)
        return 0.0


def _addr(client: str | None) -> str:
    return client or "-"


def _password_keys(name: str, client: str | None) -> tuple[str, str, str]:
    name = name.lower()
    return f"pw:{_addr(client)}|{name}", f"pw-addr:{_addr(client)}", f"pw-name:{name}"
