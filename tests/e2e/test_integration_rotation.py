"""A scheduled key rotation, seen by a real verifier: the authority app (in process, with a
fake clock, since a real rotation takes at least ten minutes) and an ``AsyncVerifier`` on the
same clock, talking HTTP through httpx's ASGI transport.

The next key is published ahead of signing, so a verifier that refetches on its usual
schedule already knows it when the first token it signed arrives; the old key keeps verifying
its tokens while it is still published.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from jot.authority.app import create_app, open_authority
from jot.authority.clock import FakeClock
from jot.authority.settings import Settings
from jot.destination import AsyncVerifier
from jot.jose.errors import InvalidTokenError
from jot.jose.hazmat import decode_unverified

pytestmark = pytest.mark.e2e

# Loopback, as the verifier requires for plain http; nothing listens: the transport is ASGI.
ISSUER = "http://127.0.0.1:9"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def kid(token: str) -> str:
    return str(decode_unverified(token)[0]["kid"])


@pytest.mark.anyio
async def test_scheduled_rotation_reaches_the_verifier_before_the_new_key_signs(
    tmp_path: Path,
) -> None:
    clock = FakeClock(start=float(int(time.time())))
    settings = Settings(
        data_dir=tmp_path / "data", issuer=ISSUER, rotation_period=3600, jwks_max_age=300,
        key_reload_interval=0.001,
    )  # fmt: skip
    started = open_authority(settings, clock=clock)
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    fetches: list[str] = []

    async def count(request: httpx.Request) -> None:
        fetches.append(request.url.path)

    assert started.bootstrap_key is not None
    headers = {"Authorization": f"Bearer {started.bootstrap_key}"}
    api = httpx.AsyncClient(transport=transport, base_url=ISSUER, headers=headers)
    http = httpx.AsyncClient(transport=transport, event_hooks={"request": [count]})
    # No verification cache: every verify below checks the signature against the JWKS.
    verifier = AsyncVerifier(ISSUER, audience="web", http=http, clock=clock, cache_size=0)
    try:
        for path, body in (
            ("/api/destinations", {"name": "web", "lifetime": 3600}),
            ("/api/grants", {"subject": "user:admin", "role": "viewer", "resource": "web"}),
        ):
            assert (await api.post(path, json=body)).status_code == 201

        async def issue() -> str:
            response = await api.post("/api/tokens", json={"destination": "web"})
            assert response.status_code == 201, response.text
            return str(response.json()["token"])

        def jwks_fetches() -> int:
            return fetches.count("/.well-known/jwks.json")

        first = await issue()
        assert (await verifier.verify(first)).name == "admin"
        assert jwks_fetches() == 1
        # The next key is published 361 s before it signs; the verifier's copy (300 s) has
        # gone stale by then, so its next request refetches on schedule and learns it.
        clock.advance(3600 - 361 + 1)
        middle = await issue()
        assert kid(middle) == kid(first)
        assert (await verifier.verify(middle)).name == "admin"
        assert jwks_fetches() == 2
        assert len(verifier.jwks.kids) == 2

        clock.advance(362)
        second = await issue()
        assert kid(second) != kid(first)
        assert kid(second) in verifier.jwks.kids  # Known before it signed anything.
        assert (await verifier.verify(second)).name == "admin"
        # The old key still verifies its unexpired tokens while it is published.
        assert (await verifier.verify(middle)).name == "admin"

        # Once its last token has expired (+ skew + cache time) the old key leaves the JWKS.
        clock.advance(4200 + 1)
        third = await issue()
        assert (await verifier.verify(third)).name == "admin"
        assert kid(first) not in verifier.jwks.kids
        with pytest.raises(InvalidTokenError):
            await verifier.verify(first)
    finally:
        await verifier.aclose()
        await api.aclose()
        started.authority.close()
