"""The sealed cookies of browser sign-in: only the destination's key opens them, and the
remembered openings answer exactly as opening again would."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jot.destination import browser_cookie
from jot.destination.browser_cookie import CookieJar, Pending, Session, cookie_key, read_cookies


def _jar(secret: str = "jot_cs_" + "a" * 43, name: str = "web") -> CookieJar:
    return CookieJar(cookie_key(secret, name), secure=True)


def _derives_to_json_start(secret: str, name: str) -> bool:
    kdf = HKDF(hashes.SHA256(), 32, salt=b"jot browser cookie", info=name.encode())
    return kdf.derive(secret.encode()).lstrip()[:1] == b"{"


def test_every_client_secret_makes_a_cookie_key() -> None:
    """The derived bytes are a key, not a typed-in secret: the one derivation in ~250 that
    starts with "{" (like a JWK's JSON) is a key too (the full suite once met such a
    secret: the destination could not start its browser sign-in)."""
    secret = next(
        s for n in range(100_000) if _derives_to_json_start(s := f"jot_cs_{n:043d}", "web")
    )
    jar = _jar(secret)
    assert jar.session(jar.seal_session(Session("a.b.c", "h", 2_000)), now=1_000) is not None


def test_only_the_destinations_key_opens_it() -> None:
    jar = _jar()
    value = jar.seal_session(Session("a.b.c", "handle", 2_000))
    assert value.count(".") == 4
    assert "handle" not in value
    assert jar.session(value, now=1_000) == Session("a.b.c", "handle", 2_000)
    assert _jar(name="wiki").session(value, now=1_000) is None  # Same secret, other name.
    assert _jar(secret="jot_cs_" + "b" * 43).session(value, now=1_000) is None
    assert jar.session(value[:-3] + "AAA", now=1_000) is None
    assert jar.session("x" * 5000, now=1_000) is None
    assert jar.open(jar.seal({"t": 1})) == {"t": 1}
    assert jar.session(jar.seal({"t": 1}), now=1_000) is None  # Not a session's shape.
    assert jar.session(jar.seal([1]), now=1_000) is None  # type: ignore[arg-type]


def test_remembered_openings_answer_as_opening_again(monkeypatch: pytest.MonkeyPatch) -> None:
    jar, fresh = _jar(), _jar()
    value = jar.seal_session(Session("a.b.c", "h", 2_000))
    for now in (1_000, 1_999, 2_000, 2_001, 1_000):
        assert (
            jar.session(value, now=now)
            == fresh.session(value, now=now)
            == _jar().session(value, now=now)
        )
    assert jar.session(value, now=2_000) is None  # Over: whatever was remembered.
    monkeypatch.setattr(browser_cookie, "OPENED_SIZE", 2)
    others = [jar.seal_session(Session(f"t{i}", "h", 2_000)) for i in range(3)]
    assert [jar.session(v, now=1_000).token for v in others] == ["t0", "t1", "t2"]  # type: ignore[union-attr]


def test_pending_and_cookie_headers() -> None:
    jar = _jar()
    pending = Pending("s" * 43, "v", "n", "https://web.example/x", "https://web.example", 2_000)
    assert jar.pending(jar.seal_pending(pending), now=1_000) == pending
    assert jar.pending(jar.seal_pending(pending), now=2_000) is None
    assert jar.pending(jar.seal({"state": "x"}), now=1_000) is None
    assert jar.state_name("abcdefghijklmnop") == "__Host-jot_state_abcdefghijkl"
    header = jar.set_cookie(jar.session_name, "v", 60).decode()
    assert header == "__Host-jot_session=v; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax"
    plain = CookieJar(cookie_key("s", "web"), secure=False)
    assert plain.set_cookie(plain.session_name, "v", 0).decode() == (
        "jot_session=v; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
    )
    both = [b"a=1; jot_session=x", b"jot_session=y;b=2"]
    assert read_cookies(both, "jot_session") == ["x", "y"]
