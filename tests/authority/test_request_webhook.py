"""The access-request webhook against a real HTTP receiver: signed bodies, retries, and an
unreachable receiver that never holds a request up."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from jot.api import webhooks
from jot.authority.app import create_app, open_authority
from jot.authority.notify import Notifier
from jot.authority.settings import Settings

from .conftest import ISSUER, bearer
from .receiver import Receiver

pytestmark = pytest.mark.anyio

SECRET = "a-webhook-secret-of-some-length"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(fail=1)
    yield found
    found.close()


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'jot.db'}"


async def test_every_step_is_posted_signed(receiver: Receiver, settings_factory) -> None:
    settings = settings_factory(webhook_url=receiver.url, webhook_secret=SECRET)
    started = open_authority(settings)
    app = create_app(authority=started.authority)
    admin = bearer(started.bootstrap_key or "")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        for path, body in (
            ("/api/users", {"name": "alice@example.com"}),
            ("/api/destinations", {"name": "web"}),
        ):
            assert (await http.post(path, json=body, headers=admin)).is_success
        key = (
            await http.post(
                "/api/access-keys", json={"identity": "alice@example.com"}, headers=admin
            )
        ).json()["access_key"]
        ask = {"role": "viewer", "resource": "web", "duration": 3600, "reason": "deploy"}
        began = time.monotonic()
        made = await http.post("/api/access-requests", json=ask, headers=bearer(key))
        # The receiver answers the first delivery with a 500: the request does not wait.
        assert made.status_code == 201
        assert time.monotonic() - began < 0.5
        answer = f"/api/access-requests/{made.json()['id']}/approve"
        assert (await http.post(answer, json={}, headers=admin)).is_success
    # created (500, then again after a second), approved.
    receiver.wait_for(3)
    started.authority.close()
    (first, _), (retried, body), (third, approved) = receiver.received
    assert first[webhooks.DELIVERY_HEADER] == retried[webhooks.DELIVERY_HEADER]
    for headers, raw in ((retried, body), (third, approved)):
        assert webhooks.check_signature(
            SECRET.encode(), headers[webhooks.TIMESTAMP_HEADER],
            headers[webhooks.SIGNATURE_HEADER], raw, now=time.time(),
        )  # fmt: skip
        # Another secret, another body, or an old timestamp: refused.
        assert not webhooks.check_signature(
            b"x" * 32, headers[webhooks.TIMESTAMP_HEADER], headers[webhooks.SIGNATURE_HEADER],
            raw, now=time.time(),
        )  # fmt: skip
        assert not webhooks.check_signature(
            SECRET.encode(), headers[webhooks.TIMESTAMP_HEADER],
            headers[webhooks.SIGNATURE_HEADER], raw + b" ", now=time.time(),
        )  # fmt: skip
        assert not webhooks.check_signature(
            SECRET.encode(), headers[webhooks.TIMESTAMP_HEADER],
            headers[webhooks.SIGNATURE_HEADER], raw, now=time.time() + 301,
        )  # fmt: skip
    created = json.loads(body)
    assert created["event"] == retried[webhooks.EVENT_HEADER] == "access_request.created"
    assert created["text"] == (
        f"alice@example.com asks for viewer on web for 1:00:00: deploy "
        f"(request {created['request']['id']})"
    )
    assert json.loads(approved)["text"].startswith("admin approved alice@example.com's viewer")


def test_an_unreachable_receiver_is_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier("http://127.0.0.1:9/hook", b"k" * 32, retries=(0.01,))
    with caplog.at_level(logging.WARNING, "jot.authority"):
        notifier.send("access_request.created", {"text": "hi"})
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.02)
        notifier.close()
    (record,) = caplog.records
    assert record.getMessage().startswith("webhook: access_request.created not delivered: Connect")


def test_a_webhook_needs_a_secret(tmp_path) -> None:
    with pytest.raises(ValidationError, match="webhook_url needs webhook_secret"):
        Settings(data_dir=tmp_path, webhook_url="https://chat.example/hook")
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(data_dir=tmp_path, webhook_url="https://chat.example/hook", webhook_secret="x")
    with pytest.raises(ValidationError, match="http:// or https://"):
        Settings(data_dir=tmp_path, webhook_url="file:///etc/passwd", webhook_secret=SECRET)
