"""The destination side against a REAL authority: a ``jot server`` process on a free port,
real tokens from ``jot token``, grants changed with the admin CLI, an emergency key rotation.

Until these tests the verifier had only met the in-test stand-in of the authority
(``tests/destination/authority.py``); here both halves meet over HTTP as they do in use.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from jot.destination import Verifier
from jot.destination.errors import UnavailableError
from jot.destination.jwks import JWKSPolicy
from jot.jose.errors import InvalidTokenError
from jot.jose.hazmat import decode_unverified

from .integration_support import Realm, realm
from .test_authority_support import run_server

pytestmark = pytest.mark.e2e

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    with realm(tmp_path_factory.mktemp("integration")) as running:
        yield running


class ShiftedClock:
    """Wall time plus an offset the test moves (the JWKS refetch rate limit is 10 s)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def connector_verifier(world: Realm, machine: str = "web-connector", **kwargs) -> Verifier:
    return Verifier(world.url, audience="web", access_key=world.machine_keys[machine], **kwargs)


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> float:
    """Seconds until ``check()`` held; fails after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout}s")


def test_real_tokens_verify_and_roles_come_from_real_grants(world: Realm) -> None:
    verifier = connector_verifier(world)
    try:
        alice = verifier.verify(world.token(ALICE, "web"))
        assert alice.name == ALICE
        assert alice.subject == world.ids[ALICE]
        assert alice.groups == ("ops",)
        assert alice.roles == {"admin"}  # Through her group.
        token = world.token(ALICE, "web")
        # The sub-resource grant adds to the destination-wide one, and only there.
        assert verifier.verify(token, resource="web.admin-panel").roles == {"admin", "editor"}
        assert verifier.verify(token, resource="web.reports").roles == {"admin"}
        assert verifier.grants is not None
        assert verifier.grants.roles_for(ALICE, [], "web.admin-panel") == {"editor"}
        assert verifier.grants.roles_for("someone", ["ops"], "web") == {"admin"}

        bob = world.token(BOB, "web")  # Bob may have a token: he holds a grant on web.reports.
        assert verifier.verify(bob).roles == frozenset()
        assert verifier.verify(bob, resource="web.reports").roles == {"viewer"}

        # A real token for another destination is refused here.
        with pytest.raises(InvalidTokenError) as refused:
            verifier.verify(world.token(ALICE, "db"))
        assert refused.value.error == "invalid_audience"
    finally:
        verifier.close()


def test_no_grant_no_token(world: Realm) -> None:
    denied = world.jot(CAROL, "token", "--for", "web", check=False)
    assert denied.returncode == 1
    assert "no grant" in denied.stderr
    assert "Traceback" not in denied.stderr


def test_machine_without_connector_role_reads_no_grants(world: Realm) -> None:
    verifier = connector_verifier(world, "nosy")
    try:
        with pytest.raises(UnavailableError):
            verifier.verify(world.token(ALICE, "web"))
    finally:
        verifier.close()
    response = httpx.get(
        f"{world.url}/api/grants",
        params={"destination": "web"},
        headers={"Authorization": f"Bearer {world.machine_keys['nosy']}"},
    )
    assert response.status_code == 403


def test_grant_changes_reach_a_running_verifier_within_a_second(world: Realm) -> None:
    verifier = connector_verifier(world)
    try:
        bob = world.token(BOB, "web")
        assert verifier.verify(bob).roles == frozenset()  # Starts the long-poll.
        time.sleep(0.3)  # Let the background poll park on the authority with its ETag.
        added = json.loads(
            world.jot("admin", "grants", "add", f"user:{BOB}", "viewer", "web", "--json").stdout
        )
        took = eventually(lambda: verifier.verify(bob).roles == {"viewer"})
        assert took < 1.5, f"the new grant took {took:.2f}s to arrive"

        world.jot("admin", "grants", "remove", added["id"])
        took = eventually(lambda: verifier.verify(bob).roles == frozenset())
        assert took < 1.5, f"the removal took {took:.2f}s to arrive"
    finally:
        verifier.close()


def test_emergency_rotation(world: Realm) -> None:
    fetched: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: fetched.append(r.url.path)]})
    clock = ShiftedClock()
    verifier = connector_verifier(world, http=http, clock=clock)
    jwks_fetches = lambda: fetched.count("/.well-known/jwks.json")  # noqa: E731
    try:
        old = world.token(ALICE, "web")
        verifier.verify(old)
        assert jwks_fetches() == 1
        old_kid = decode_unverified(old)[0]["kid"]

        rotated = world.jot("admin", "signing-keys", "rotate", "--yes", "--json")
        assert old_kid in rotated.stdout
        new = world.token(ALICE, "web", refresh=True)
        new_kid = decode_unverified(new)[0]["kid"]
        assert new_kid != old_kid
        published = httpx.get(f"{world.url}/.well-known/jwks.json").json()
        assert [k["kid"] for k in published["keys"]] == [new_kid]

        # Until the verifier learns of the new key, the old one is what it has.
        assert verifier.verify(old).name == ALICE
        # A new kid makes it fetch the JWKS once (past the refetch rate limit) and accept.
        clock.offset += JWKSPolicy().min_interval
        assert verifier.verify(new).name == ALICE
        assert verifier.verify(new).name == ALICE
        assert jwks_fetches() == 2
        # The revoked key has left the JWKS: its tokens stop verifying, cached or not.
        with pytest.raises(InvalidTokenError):
            verifier.verify(old)
        assert jwks_fetches() == 2
    finally:
        verifier.close()
        http.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_watching_destinations_do_not_hold_up_a_graceful_stop(tmp_path, workers: str) -> None:
    answers: list[int] = []
    with run_server(tmp_path / "data", "--workers", workers) as server:
        url, params = f"{server.url}/api/grants", {"destination": "jot"}
        headers = {"Authorization": f"Bearer {server.admin_key()}"}
        etag = httpx.get(url, params=params, headers=headers).headers["etag"]
        parked = {"params": {**params, "wait": "60"}, "headers": {**headers, "If-None-Match": etag}}
        # One destination parks a long-poll, then goes away (stopped, restarted) mid-wait...
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(url, **parked, timeout=httpx.Timeout(5, read=0.5))
        # ... and a live one stays parked while the server is told to stop.
        watcher = threading.Thread(
            target=lambda: answers.append(httpx.get(url, **parked, timeout=30).status_code)
        )
        watcher.start()
        time.sleep(1)
        stopping = time.monotonic()
    # SIGTERM lets requests in flight finish: a long-poll must answer at once instead of
    # holding the stop up for its whole wait (uvicorn gives up after 30 s).
    assert time.monotonic() - stopping < 5
    watcher.join(timeout=5)
    assert answers == [304]
