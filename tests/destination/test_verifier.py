from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest

from jot.destination import errors
from jot.destination._core import allowed
from jot.destination.grants import GrantIndex
from jot.destination.jwks import JWKSPolicy
from jot.destination.stores import MemoryStore
from jot.destination.verifier import AsyncVerifier, Verifier
from jot.jose import errors as jose_errors
from jot.jose import jwk

from .authority import ACCESS_KEY, Clock, FakeAuthority


@pytest.fixture
def authority() -> FakeAuthority:
    a = FakeAuthority()
    a.set_grants([("group:ops", "admin", "web"), ("user:alice@example.com", "viewer", "web.docs")])
    return a


@pytest.fixture
def clock() -> Clock:
    return Clock()


_made: list[Verifier] = []


@pytest.fixture(autouse=True)
def _close_verifiers():
    yield
    while _made:
        _made.pop().close()


def make(authority: FakeAuthority, clock: Clock, **kwargs) -> Verifier:
    kwargs.setdefault("access_key", ACCESS_KEY)
    verifier = Verifier(
        authority.issuer, audience="web", http=authority.client(), clock=clock, **kwargs
    )
    _made.append(verifier)
    return verifier


def test_good_token_gives_identity_and_roles(authority, clock):
    v = make(authority, clock)
    token = authority.token(now=int(clock.now))
    ident = v.verify(token)
    assert ident.subject == "u_alice"
    assert ident.name == "alice@example.com"
    assert ident.groups == ("ops",)  # system:masters dropped
    assert ident.roles == {"admin"}
    assert v.verify(token, resource="web.docs").roles == {"admin", "viewer"}
    assert ident.expires.timestamp() == int(clock.now) + 300


def test_system_groups_kept_only_when_configured(authority, clock):
    v = make(authority, clock, keep_system_groups=True)
    assert "system:masters" in v.verify(authority.token(now=int(clock.now))).groups


def test_resource_outside_destination_is_a_programming_error(authority, clock):
    v = make(authority, clock)
    with pytest.raises(ValueError):
        v.verify(authority.token(), resource="webby")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"aud": "db"}, jose_errors.InvalidAudienceError),
        ({"iss": "http://127.0.0.1:10"}, jose_errors.InvalidIssuerError),
        ({"typ": "JWT"}, jose_errors.InvalidTypeError),
        ({"exp": 1}, jose_errors.ExpiredTokenError),
        ({"jti": None}, jose_errors.MissingClaimError),
        ({"groups": "ops"}, jose_errors.ClaimError),
    ],
    ids=["aud", "iss", "typ", "expired", "no-jti", "groups-not-list"],
)
def test_bad_claims_are_rejected(authority, clock, overrides, error):
    v = make(authority, clock)
    with pytest.raises(error):
        v.verify(authority.token(**overrides))


def test_not_yet_valid(authority, clock):
    v = make(authority, clock)
    now = int(clock.now)
    with pytest.raises(jose_errors.NotYetValidError):
        v.verify(authority.token(nbf=now + 3600, iat=now, exp=now + 7200))


def test_tampered_token_is_rejected(authority, clock):
    v = make(authority, clock)
    header, payload, sig = authority.token().split(".")
    other = authority.token(sub="u_mallory").split(".")[1]
    with pytest.raises(jose_errors.BadSignatureError):
        v.verify(f"{header}.{other}.{sig}")
    with pytest.raises(jose_errors.InvalidTokenError):
        v.verify(f"{header}.{payload}.{sig[:-4]}AAAA")


def test_garbage_and_huge_tokens_are_rejected(authority, clock):
    v = make(authority, clock)
    for token in ["", "a.b", "not a token", "x" * 20_000]:
        with pytest.raises(jose_errors.InvalidTokenError):
            v.verify(token)


def test_rotation_new_kid_fetched_once_old_kid_leaves(authority, clock):
    v = make(authority, clock)
    old = authority.signing_key
    old_token = authority.token()
    v.verify(old_token)
    assert authority.jwks_fetches() == 1
    new = jwk.generate("Ed25519")
    authority.keys = [new, old]  # The new key is published, and signs.
    clock.advance(11)  # Past the unknown-kid rate limit.
    v.verify(authority.token(now=int(clock.now)))
    assert authority.jwks_fetches() == 2
    authority.keys = [new]  # The old key retires.
    v.verify(old_token)  # Still cached and the set is fresh: accepted until the next refresh.
    clock.advance(301)
    with pytest.raises(jose_errors.KeyNotFoundError):
        v.verify(authority.token(key=old, now=int(clock.now)))
    with pytest.raises(jose_errors.InvalidTokenError):
        v.verify(old_token)  # Cache entry dropped once its kid left the set.


def test_bogus_kid_flood_is_bounded(authority, clock):
    v = make(authority, clock)
    v.verify(authority.token())
    for _ in range(200):
        bogus = jwk.generate("Ed25519", kid=secrets.token_urlsafe(8))
        with pytest.raises(jose_errors.InvalidTokenError):
            v.verify(authority.token(key=bogus))
    assert authority.jwks_fetches() <= 2
    clock.advance(10)
    with pytest.raises(jose_errors.InvalidTokenError):
        v.verify(authority.token(key=jwk.generate("Ed25519", kid="again")))
    assert authority.jwks_fetches() <= 3


def test_authority_down_keeps_last_good_keys(authority, clock):
    v = make(authority, clock)
    v.verify(authority.token())
    authority.down = True
    clock.advance(3600)
    ident = v.verify(authority.token(now=int(clock.now)))  # Grants and keys: last good.
    assert ident.roles == {"admin"}


def test_authority_down_at_start_is_unavailable(authority, clock):
    authority.down = True
    v = make(authority, clock)
    with pytest.raises(errors.UnavailableError):
        v.verify(authority.token())
    with pytest.raises(errors.UnavailableError):
        v.verify(authority.token())
    assert len(authority.requests) == 1  # The retry waits out the rate limit.


def test_jwks_size_cap(authority, clock):
    authority.jwks_body = b'{"keys": [' + b" " * 300_000 + b"]}"
    v = make(authority, clock)
    with pytest.raises(errors.UnavailableError):
        v.verify(authority.token())


def test_max_age_is_honoured_within_bounds(authority, clock):
    authority.max_age = 5  # Below min_ttl: clamped up to 30.
    v = make(authority, clock)
    v.verify(authority.token())
    clock.advance(20)
    v.verify(authority.token(now=int(clock.now)))
    assert authority.jwks_fetches() == 1
    clock.advance(11)
    v.verify(authority.token(now=int(clock.now)))
    assert authority.jwks_fetches() == 2


def test_http_issuer_refused_unless_loopback():
    with pytest.raises(ValueError, match="https"):
        Verifier("http://auth.example", audience="web")
    Verifier("https://auth.example", audience="web")
    Verifier("http://[::1]:8080", audience="web")


def test_bad_options_raise_value_error():
    with pytest.raises(ValueError):
        Verifier(audience="web")
    with pytest.raises(ValueError):
        Verifier("https://a.example", audience="")
    with pytest.raises(ValueError):
        Verifier("https://a.example", audience="web", algorithms=("none",))
    with pytest.raises(ValueError):
        JWKSPolicy(min_ttl=10, default_ttl=5)


def test_cache_skips_signature_and_never_outlives_exp(authority, clock):
    v = make(authority, clock)
    now = int(clock.now)
    token = authority.token(now=now, exp=now + 60)
    v.verify(token)
    v.verify(token)
    assert v.cache is not None
    assert v.cache.hits == 1
    clock.advance(59.9)
    v.verify(token)
    assert v.cache.hits == 2
    clock.advance(0.1)  # Exactly exp: the cache must not answer.
    v.verify(token)  # Within the leeway (60 s) the full check still accepts …
    assert v.cache.hits == 2  # … but not from the cache.
    strict = make(authority, clock, leeway=0)
    with pytest.raises(jose_errors.ExpiredTokenError):
        strict.verify(token)


def test_cache_off(authority, clock):
    v = make(authority, clock, cache_size=0)
    token = authority.token()
    v.verify(token)
    v.verify(token)
    assert v.cache is None


def test_deny_list_by_jti_and_subject(authority, clock):
    store = MemoryStore(clock=clock)
    v = make(authority, clock, deny_list=store)
    token = authority.token(jti="jti-1")
    v.verify(token)
    store.deny_token("jti-1")
    with pytest.raises(errors.RevokedTokenError):
        v.verify(token)  # Even from the cache.
    v.verify(authority.token(jti="jti-2"))
    store.deny_subject("u_alice", until=clock.now + 10)
    with pytest.raises(errors.RevokedTokenError):
        v.verify(authority.token(jti="jti-3"))
    clock.advance(11)
    v.verify(authority.token(jti="jti-4", now=int(clock.now)))


def test_replay_detection(authority, clock):
    v = make(authority, clock, replay=MemoryStore(clock=clock))
    token = authority.token()
    v.verify(token)
    with pytest.raises(errors.ReplayedTokenError):
        v.verify(token)
    v.verify(authority.token())


def test_static_jwks_and_grant_source(authority, clock):
    jwks = {"keys": [authority.signing_key.public().to_dict()]}
    v = Verifier(
        issuer=authority.issuer,
        audience="web",
        jwks=jwks,
        clock=clock,
        grants=GrantIndex([{"subject": "user:alice@example.com", "role": "r", "resource": "web"}]),
    )
    assert v.verify(authority.token()).roles == {"r"}
    assert authority.requests == []


def test_no_grants_configured_means_no_roles(authority, clock):
    v = make(authority, clock, access_key=None)
    assert v.verify(authority.token()).roles == frozenset()


def test_grants_unavailable(authority, clock):
    v = make(authority, clock, access_key="wrong")
    with pytest.raises(errors.UnavailableError):
        v.verify(authority.token())


@pytest.mark.anyio
async def test_async_verifier(authority, clock):
    v = AsyncVerifier(
        authority.issuer,
        audience="web",
        access_key=ACCESS_KEY,
        http=authority.async_client(),
        clock=clock,
        replay=MemoryStore(clock=clock),
    )
    try:
        token = authority.token()
        ident = await v.verify(token)
        assert ident.roles == {"admin"}
        with pytest.raises(errors.ReplayedTokenError):
            await v.verify(token)
        with pytest.raises(jose_errors.InvalidAudienceError):
            await v.verify(authority.token(aud="db"))
        for _ in range(50):
            with pytest.raises(jose_errors.InvalidTokenError):
                await v.verify(authority.token(key=jwk.generate("Ed25519")))
        assert authority.jwks_fetches() == 1
    finally:
        await v.aclose()


def test_grants_follow_the_authority_in_the_background(authority, clock):
    v = make(authority, clock)
    token = authority.token()
    assert v.verify(token).roles == {"admin"}
    authority.set_grants([("group:ops", "viewer", "web")])
    deadline = time.monotonic() + 5
    while v.verify(token).roles != {"viewer"}:
        assert time.monotonic() < deadline, "grants were not refreshed"
        time.sleep(0.05)


def test_discovery_must_name_our_issuer_and_an_https_jwks_uri(authority, clock):
    def handler(body):
        def respond(request):
            return httpx.Response(200, json=body)

        return httpx.Client(transport=httpx.MockTransport(respond))

    for body in (
        {"issuer": "https://other.example", "jwks_uri": "https://other.example/jwks"},
        {"issuer": authority.issuer, "jwks_uri": "http://evil.example/jwks"},
        {"issuer": authority.issuer},
    ):
        v = Verifier(authority.issuer, audience="web", http=handler(body), clock=clock)
        with pytest.raises(errors.UnavailableError):
            v.verify(authority.token())


def test_stale_keys_serve_known_kids_while_a_slow_refresh_runs(authority, clock):
    v = make(authority, clock)
    v.verify(authority.token())
    clock.advance(400)  # The key set is stale now.
    entered, release = threading.Event(), threading.Event()

    def slow(request):
        if request.url.path.endswith("jwks.json"):
            entered.set()
            release.wait(5)
        return authority.handler(request)

    v.jwks._http = httpx.Client(transport=httpx.MockTransport(slow))
    refresher = threading.Thread(target=v.verify, args=(authority.token(now=int(clock.now)),))
    refresher.start()
    try:
        assert entered.wait(5)
        started = time.monotonic()
        v.verify(authority.token(now=int(clock.now)))  # Known kid: does not queue.
        assert time.monotonic() - started < 1
    finally:
        release.set()
        refresher.join(5)


def test_system_group_kept_when_a_grant_names_it(authority, clock):
    authority.set_grants([("group:system:masters", "root", "web"), ("group:ops", "admin", "web")])
    v = make(authority, clock)
    ident = v.verify(authority.token(groups=["ops", "system:masters", "system:nodes"]))
    assert ident.groups == ("ops", "system:masters")
    assert ident.roles == {"root", "admin"}


def test_a_time_bound_grant_lapses_at_the_destination_on_its_own(authority, clock):
    """Issue 19 item 2: the grant's end came with the list; at that moment the destination
    drops it (also the decision remembered for a cached token), with no new list."""
    end = clock.now + 120
    authority.set_grants(
        [("user:alice@example.com", "viewer", "web",
          datetime.fromtimestamp(end, UTC).isoformat())]
    )  # fmt: skip
    v = make(authority, clock)
    token = authority.token(now=int(clock.now), groups=[])
    assert v.verify(token).roles == {"viewer"}
    assert v.verify(token).roles == {"viewer"}  # Remembered with the cached token.
    clock.now = end - 0.5
    assert v.verify(token).roles == {"viewer"}
    clock.now = end
    assert v.verify(token).roles == frozenset()
    lapsed = v.verify(token)
    with pytest.raises(errors.ForbiddenError):
        allowed(lapsed, True)
    assert len(authority.grants) == 1  # The list never changed: the end came with it.


def test_a_revocation_from_the_authority_refuses_at_once_and_ages_out(authority, clock):
    """Issue 19 item 4: deny entries come with the grants; the subject's every token, or the
    one token named, is refused until the entry's end, then accepted again."""
    v = make(authority, clock)
    token = authority.token(now=int(clock.now))
    other = authority.token(now=int(clock.now), sub="u_bob", name="bob@example.com")
    assert v.verify(token).roles == {"admin"}
    until = datetime.fromtimestamp(clock.now + 60, UTC).isoformat()
    authority.revoked = [{"kind": "subject", "value": "u_alice", "until": until}]
    authority.set_grants([("group:ops", "admin", "web")])
    v.grants.refresh()
    with pytest.raises(errors.RevokedTokenError):
        v.verify(token)  # Also the cached token: the check runs at every request.
    assert v.verify(other).roles == {"admin"}
    clock.now += 60
    assert v.verify(token).roles == {"admin"}
