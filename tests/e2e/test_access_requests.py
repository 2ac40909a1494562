"""End to end (issue 19 item 3): access requests through the real CLI against a real
`jot server`, which notifies a real webhook receiver."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from jot.api import webhooks
from tests.authority.receiver import Receiver

from .test_authority_support import cli, run_server

pytestmark = pytest.mark.e2e

SECRET = "e2e-webhook-secret-0123456789"


def test_ask_approve_token_and_notify(tmp_path: Path) -> None:
    receiver = Receiver()
    env = {"JOT_WEBHOOK_URL": receiver.url, "JOT_WEBHOOK_SECRET": SECRET}
    admin, alice, bob = tmp_path / "admin", tmp_path / "alice", tmp_path / "bob"
    try:
        with run_server(tmp_path / "data", env=env) as server:
            cli(admin, "login", server.url, "--key-stdin", stdin=server.admin_key() + "\n")
            for args in (
                ["users", "add", "alice@example.com"],
                ["users", "add", "bob@example.com"],
                ["destinations", "add", "web"],
                ["grants", "add", "user:bob@example.com", "approver", "jot.web"],
            ):
                cli(admin, *args)
            for home, name in ((alice, "alice@example.com"), (bob, "bob@example.com")):
                key = cli(admin, "access-keys", "add", name).stdout
                cli(home, "login", server.url, "--key-stdin", stdin=key)

            refused = cli(alice, "token", "--for", "web", check=False)
            assert refused.returncode == 1
            asked = cli(alice, "requests", "add", "viewer", "web", "--for", "1h",
                        "--reason", "on call", "--json").stdout  # fmt: skip
            request_id = json.loads(asked)["id"]
            own = cli(alice, "requests", "approve", request_id, check=False)
            assert (
                own.stderr == "Error: you cannot answer your own request; another approver must\n"
            )
            pending = json.loads(
                cli(bob, "requests", "list", "--state", "pending", "--json").stdout
            )
            assert [r["id"] for r in pending] == [request_id]
            cli(bob, "requests", "approve", request_id)
            assert cli(alice, "token", "--for", "web").stdout.count(".") == 2
            grants = json.loads(
                cli(admin, "grants", "list", "--subject", "user:alice@example.com", "--json").stdout
            )
            assert [(g["role"], g["resource"]) for g in grants] == [("viewer", "web")]
            assert grants[0]["expires"] is not None
            audit = json.loads(cli(admin, "audit", "--kind", "access_request.", "--json").stdout)
            assert [e["kind"] for e in audit] == [
                "access_request.approved", "access_request.created",
            ]  # fmt: skip
            receiver.wait_for(2)
    finally:
        receiver.close()
    events = []
    for headers, body in receiver.received:
        assert webhooks.check_signature(
            SECRET.encode(), headers[webhooks.TIMESTAMP_HEADER],
            headers[webhooks.SIGNATURE_HEADER], body, now=time.time(),
        )  # fmt: skip
        events.append(json.loads(body)["event"])
    assert events == ["access_request.created", "access_request.approved"]
