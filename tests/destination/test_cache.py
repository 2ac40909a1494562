"""The verification cache (destination/cache.py): keys without kid, a full cache that keeps
what it holds, and decisions reused until the grants change."""

from __future__ import annotations

import os

import pytest

from jot.destination.cache import CachedToken, VerificationCache
from jot.destination.grants import FileGrants, GrantIndex
from jot.destination.jwks import key_name
from jot.destination.verifier import AsyncVerifier, Verifier
from jot.jose import Key, KeySet, jwk
from jot.jose.errors import InvalidTokenError

from .authority import ACCESS_KEY, Clock, FakeAuthority


def unnamed_key() -> Key:
    plain = jwk.generate("Ed25519").to_dict(private=True)
    plain.pop("kid", None)
    key = jwk.import_key(plain)
    assert key.kid is None
    return key


GRANTS = [{"subject": "group:ops", "role": "admin", "resource": "web"}]


def test_a_static_key_without_kid_hits_the_cache_like_a_keyed_one():
    authority = FakeAuthority(keys=[unnamed_key()])
    clock = Clock()
    for key in (authority.signing_key, jwk.generate("Ed25519")):
        authority.keys = [key]
        verifier = Verifier(
            authority.issuer, audience="web", jwks=KeySet([key.public()]),
            grants=GrantIndex(GRANTS), clock=clock,
        )  # fmt: skip
        token = authority.token(now=int(clock.now))
        assert verifier.verify(token).roles == {"admin"}
        assert verifier.verify(token).roles == {"admin"}
        assert verifier.cache is not None
        assert (verifier.cache.hits, verifier.cache.misses) == (1, 1), key.kid


def test_a_published_key_without_kid_hits_until_it_leaves_the_set():
    key = unnamed_key()
    authority = FakeAuthority(keys=[key], max_age=30)
    authority.set_grants([("group:ops", "admin", "web")])
    clock = Clock()
    verifier = Verifier(
        authority.issuer, audience="web", access_key=ACCESS_KEY, http=authority.client(),
        clock=clock,
    )  # fmt: skip
    try:
        token = authority.token(now=int(clock.now))
        verifier.verify(token)
        verifier.verify(token)
        assert verifier.cache is not None
        assert verifier.cache.hits == 1
        assert verifier.jwks.names == {key_name(key)}
        assert key_name(key).startswith("urn:ietf:params:oauth:jwk-thumbprint:sha-256:")
        # The key leaves the authority's set: the token is no longer served from the cache
        # (and no longer verifies).
        authority.keys = [jwk.generate("Ed25519")]
        clock.advance(31)
        verifier.verify(authority.token(now=int(clock.now)))  # A miss: the set is refetched.
        with pytest.raises(InvalidTokenError):  # Not verified against the new key.
            verifier.verify(token)
        assert verifier.cache.hits == 1
    finally:
        verifier.close()


def _entry(exp: float) -> CachedToken:
    return CachedToken({"exp": exp}, "k", exp)


def test_a_full_cache_keeps_what_it_holds_until_it_expires():
    cache = VerificationCache(max_entries=3)
    for n in range(3):
        cache.put(chr(n), _entry(100 + n), now=0)
    cache.put("new", _entry(200), now=0)  # Full, nothing expired: not kept …
    assert cache.get("new", 0, None) is None
    assert all(cache.get(chr(n), 0, None) is not None for n in range(3))  # … nor evicting.
    cache.put("new", _entry(200), now=100.5)  # The oldest expired: it makes room.
    assert cache.get("new", 100.5, None) is not None
    assert cache.get("\x00", 100.5, None) is None
    assert len(cache) == 3


def test_expired_entries_behind_a_long_lived_one_are_swept():
    cache = VerificationCache(max_entries=3)
    cache.put("long", _entry(1000), now=0)
    cache.put("a", _entry(10), now=0)
    cache.put("b", _entry(10), now=0)
    # The front (long) has not expired: two tokens are refused; the third refusal in a row
    # (max_entries) sweeps a and b away, and the third token is kept.
    for n in range(3):
        cache.put(chr(n), _entry(500), now=20)
    assert len(cache) == 2
    assert cache.get("long", 20, None) is not None
    assert cache.get("\x01", 20, None) is None
    assert cache.get("\x02", 20, None) is not None


def test_entries_are_found_by_the_whole_token_only():
    """The key is the token itself: one byte more, less or other is another entry."""
    cache = VerificationCache()
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2ln"
    cache.put(token, _entry(100), now=0)
    assert cache.get(token, 0, None) is not None
    assert cache.get("".join(token), 0, None) is not None  # Equal text, another object.
    for other in (token[:-1], token + "A", token[:-1] + "m", " " + token):
        assert cache.get(other, 0, None) is None


def test_a_cache_of_size_zero_keeps_nothing():
    cache = VerificationCache(max_entries=0)
    cache.put("x", _entry(10), now=0)
    assert len(cache) == 0


def test_a_decision_is_reused_until_the_grants_change(tmp_path):
    grants = tmp_path / "grants.toml"
    grants.write_text('[[grants]]\nsubject = "group:ops"\nrole = "admin"\nresource = "web"\n')
    authority = FakeAuthority()
    clock = Clock()
    source = FileGrants(grants, check_interval=0)
    verifier = Verifier(
        authority.issuer, audience="web", jwks=KeySet([authority.signing_key.public()]),
        grants=source, clock=clock,
    )  # fmt: skip
    token = authority.token(now=int(clock.now))
    first = verifier.verify(token)
    assert verifier.verify(token) is first  # The same decision, not made again.
    assert verifier.verify(token, resource="web.docs") is not first  # Another resource.
    grants.write_text('[[grants]]\nsubject = "group:ops"\nrole = "viewer"\nresource = "web"\n')
    os.utime(grants, ns=(1, 1))  # A new mtime, even within the file system's granularity.
    changed = verifier.verify(token)
    assert changed.roles == {"viewer"}
    assert verifier.verify(token) is changed


@pytest.mark.anyio
async def test_the_async_verifier_reuses_decisions_too():
    authority = FakeAuthority()
    index = GrantIndex(GRANTS)
    verifier = AsyncVerifier(
        authority.issuer, audience="web", jwks=KeySet([authority.signing_key.public()]),
        grants=index,
    )  # fmt: skip
    token = authority.token()
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first
    verifier.grants = GrantIndex([])  # New grants: decided again.
    assert (await verifier.verify(token)).roles == frozenset()


def test_without_a_cache_every_request_is_decided(tmp_path):
    authority = FakeAuthority()
    verifier = Verifier(
        authority.issuer, audience="web", jwks=KeySet([authority.signing_key.public()]),
        grants=GrantIndex(GRANTS), cache_size=0,
    )  # fmt: skip
    token = authority.token()
    assert verifier.verify(token) is not verifier.verify(token)
