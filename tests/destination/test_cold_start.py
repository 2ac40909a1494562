"""Issue 13 item 2: a destination that has just started decides every request that arrives
while its first JWKS and grants fetches are in flight (they wait for them), instead of
answering 503 to all but the first."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from jot.destination.forward_auth import ForwardAuth
from jot.destination.verifier import AsyncVerifier, Verifier

from .authority import ACCESS_KEY, FakeAuthority

CONCURRENT = 16
SLOW = 0.3  # Each authority answer takes this long, so the first fetches are still in flight.


@pytest.fixture
def authority() -> FakeAuthority:
    a = FakeAuthority()
    a.set_grants([("user:alice@example.com", "viewer", "web")])
    return a


def _scope(token: str) -> dict[str, object]:
    header = (b"authorization", b"Bearer " + token.encode())
    return {"type": "http", "path": "/", "headers": [header], "query_string": b""}


@pytest.mark.anyio
async def test_concurrent_first_requests_wait_for_the_first_fetches(authority):
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(SLOW)
        return authority.handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    verifier = AsyncVerifier(authority.issuer, audience="web", access_key=ACCESS_KEY, http=http)
    app = ForwardAuth(verifier)
    tokens = [authority.token() for _ in range(CONCURRENT)]
    try:
        answers = await asyncio.gather(*(app.decide(_scope(t)) for t in tokens))
    finally:
        await verifier.aclose()
    assert [status for status, _ in answers] == [200] * CONCURRENT
    # One discovery, one JWKS and one grants fetch, not one per request.
    assert authority.jwks_fetches() == 1
    assert authority.requests.count("/api/grants") == 1


def test_concurrent_first_requests_wait_in_threads_too(authority):
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(SLOW)
        return authority.handler(request)

    http = httpx.Client(transport=httpx.MockTransport(slow))
    verifier = Verifier(
        authority.issuer, audience="web", access_key=ACCESS_KEY, http=http, cache_size=0
    )
    results: list[object] = []
    start = threading.Barrier(CONCURRENT)

    def one() -> None:
        start.wait()
        try:
            results.append(verifier.verify(authority.token()).roles)
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(CONCURRENT)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        verifier.close()
    assert results == [frozenset({"viewer"})] * CONCURRENT
    assert authority.jwks_fetches() == 1


@pytest.mark.anyio
async def test_a_failed_first_fetch_is_waited_for_then_refused_quickly(authority):
    """With the authority down the waiters get their 503 when the fetch in flight fails,
    and later requests inside the retry interval are refused without a fetch each."""
    authority.down = True

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(SLOW)
        return authority.handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    verifier = AsyncVerifier(authority.issuer, audience="web", access_key=ACCESS_KEY, http=http)
    app = ForwardAuth(verifier)
    try:
        answers = await asyncio.gather(*(app.decide(_scope(authority.token())) for _ in range(8)))
        later, _ = await app.decide(_scope(authority.token()))
    finally:
        await verifier.aclose()
    assert [status for status, _ in answers] == [503] * 8
    assert later == 503
    assert authority.requests.count("/.well-known/openid-configuration") == 1
