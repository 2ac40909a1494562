"""End to end (issue 19 item 2): a time-bound grant against a real `jot server` and a real
forward-auth connector. The authority audits the lapse; the destination drops the grant at
its end by itself — shown with the authority stopped before then."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.destination.servers import jot_process

from .integration_support import realm

pytestmark = pytest.mark.e2e

BOB, CAROL = "bob@example.com", "carol@example.com"


def _check(url: str, token: str) -> int:
    response = httpx.get(url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return response.status_code


def test_lapse_audited_and_dropped_without_the_authority(tmp_path) -> None:
    with realm(tmp_path) as world:
        world.jot("admin", "grants", "add", "user:web-connector", "connector", "jot.db")
        args = ["connector", "forward-auth", "--issuer", world.url, "--name", "db",
                "--access-key-file", str(world.key_file("web-connector")),
                "--listen", "127.0.0.1:0"]  # fmt: skip
        with jot_process(*args) as url:
            end = datetime.now(UTC) + timedelta(seconds=45)
            until = end.isoformat()
            world.jot("admin", "grants", "add", f"user:{BOB}", "viewer", "db", "--until", until)
            world.jot("admin", "grants", "add", f"user:{CAROL}", "viewer", "db", "--for", "2s")
            listed = world.jot("admin", "grants", "list", "--subject", f"user:{BOB}").stdout
            assert "left)" in listed
            token = world.token(BOB, "db")
            deadline = time.monotonic() + 20  # The new grant reaches the connector.
            while _check(url, token) != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _check(url, token) == 200
            # carol's two seconds run out: the authority deletes the grant and audits it.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                audit = world.jot("admin", "audit", "--kind", "grant.lapsed", "--json").stdout
                lapsed = [e for e in json.loads(audit) if e["detail"]["subject"] == f"user:{CAROL}"]
                if lapsed:
                    break
                time.sleep(0.5)
            assert lapsed, "no grant.lapsed for carol"
            # The authority goes away; bob's grant still lapses at the destination on time.
            world.server.process.send_signal(signal.SIGTERM)
            world.server.process.wait(timeout=30)
            assert _check(url, token) == 200
            time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 0.2)
            assert _check(url, token) == 403
