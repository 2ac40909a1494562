"""The sealed cookies of browser sign-in at a destination: the session (the current jot and a
refresh handle) and the short-lived state of a sign-in in progress.

Both are compact JWEs (``dir`` + ``A256GCM``) under a key that only this destination holds:
HKDF-SHA256 of its OpenID client secret, which the authority never stores (it keeps only a
hash). A browser, or anyone who copies the cookie, can neither read nor change it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jot.jose import jwe
from jot.jose.errors import JoseError
from jot.jose.jwk import OctKey

__all__ = [
    "MAX_COOKIE",
    "OPENED_SIZE",
    "CookieJar",
    "Pending",
    "Session",
    "cookie_key",
    "read_cookies",
]

#: Browsers keep cookies up to 4096 bytes (name, value and attributes together).
MAX_COOKIE = 4000
#: Session cookies remembered once opened (bench/destination.py: a decryption costs four
#: cached bearer decisions). A value maps to one plaintext under one key, so a hit answers
#: exactly as opening it again would; expiry is checked at every use. Bounded: a flood of
#: distinct cookies just starts it over.
OPENED_SIZE = 4096
_ALG, _ENC = "dir", "A256GCM"


def cookie_key(client_secret: str, audience: str) -> OctKey:
    """The destination's cookie key: HKDF-SHA256 of its client secret, bound to its name."""
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"jot browser cookie", info=audience.encode()
    ).derive(client_secret.encode())
    # Raw key bytes, not a typed-in secret: from_secret's check against encoded keys would
    # refuse the one derivation in ~250 that happens to start with "{" (the JSON of a JWK).
    return OctKey(derived, alg=_ALG)


@dataclass(frozen=True)
class Session:
    """What the session cookie holds."""

    token: str
    refresh: str
    #: When the cookie stops being accepted whatever it holds (seconds since the epoch).
    ends: float


@dataclass(frozen=True)
class Pending:
    """A sign-in in progress: what binds the callback to the browser that started it."""

    state: str
    verifier: str
    nonce: str
    #: Where to go after: a path on ``origin``.
    back: str
    origin: str
    ends: float


class CookieJar:
    """Seals and opens this destination's cookies; ``secure`` gives them ``__Host-`` names."""

    def __init__(self, key: OctKey, *, secure: bool) -> None:
        self._key = key
        self.secure = secure
        self._opened: dict[str, Session] = {}
        prefix = "__Host-" if secure else ""
        #: The session cookie's name.
        self.session_name = prefix + "jot_session"
        self._state_prefix = prefix + "jot_state_"

    def state_name(self, state: str) -> str:
        """One state cookie per sign-in in progress (two tabs do not overwrite each other)."""
        return self._state_prefix + state[:12]

    def seal(self, values: dict[str, Any]) -> str:
        plaintext = json.dumps(values, separators=(",", ":")).encode()
        return jwe.encrypt_compact(plaintext, self._key, alg=_ALG, enc=_ENC)

    def open(self, value: str | None) -> dict[str, Any] | None:
        """The sealed values, or ``None`` for a missing, foreign, changed or garbled cookie."""
        if not value or len(value) > MAX_COOKIE:
            return None
        try:
            plaintext = jwe.decrypt_compact(
                value, self._key, algorithms=[_ALG], encryptions=[_ENC], max_size=MAX_COOKIE
            ).plaintext
            values = json.loads(plaintext)
        except (JoseError, ValueError):
            return None
        return values if isinstance(values, dict) else None

    def session(self, value: str | None, now: float | None = None) -> Session | None:
        """The session a cookie holds, unless it is foreign, changed or over at ``now``."""
        session = self._opened.get(value) if value else None
        if session is None:
            found = self.open(value)
            if found is None or value is None:
                return None
            try:
                session = Session(str(found["t"]), str(found["r"]), float(found["e"]))
            except (KeyError, TypeError, ValueError):
                return None
            if len(self._opened) >= OPENED_SIZE:
                self._opened.clear()
            self._opened[value] = session
        return session if session.ends > (time.time() if now is None else now) else None

    def seal_session(self, session: Session) -> str:
        return self.seal({"t": session.token, "r": session.refresh, "e": session.ends})

    def pending(self, value: str | None, now: float) -> Pending | None:
        found = self.open(value)
        if found is None:
            return None
        try:
            pending = Pending(**found)
        except TypeError:
            return None
        return pending if pending.ends > now else None

    def seal_pending(self, pending: Pending) -> str:
        return self.seal(pending.__dict__)

    def set_cookie(self, name: str, value: str, max_age: int) -> bytes:
        """A ``Set-Cookie`` value: host-only, ``Path=/``, HttpOnly, SameSite=Lax (the callback
        is a cross-site navigation from the authority, which Lax lets through)."""
        attributes = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
        if self.secure:
            attributes.insert(3, "Secure")
        return "; ".join(attributes).encode("latin-1")

    def clear_cookie(self, name: str) -> bytes:
        return self.set_cookie(name, "", 0)


def read_cookies(header_values: list[bytes], name: str) -> list[str]:
    """Every value of cookie ``name`` in the request's ``Cookie`` headers: a sibling subdomain
    can toss in a cookie of the same name (without ``__Host-``), so the caller tries each."""
    wanted = name.encode("latin-1")
    found = []
    for header in header_values:
        for part in header.split(b";"):
            key, _, value = part.strip().partition(b"=")
            if key == wanted:
                found.append(value.decode("latin-1"))
    return found
