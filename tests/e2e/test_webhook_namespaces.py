"""End to end (issue 19 item 1, the TokenReview path): `jot connector webhook` against a real
`jot server`, with real tokens from `jot token`: a grant on k8s.<namespace> becomes the
namespaced role group `jot:role:<role>:<namespace>` (and no cluster-wide one), a cluster-wide
grant keeps its group, and a grant added later reaches the webhook through the long-poll."""

from __future__ import annotations

import ssl
import time

import httpx
import pytest

from jot.destination.tls import write_self_signed
from jot.destination.webhook import API_VERSION
from tests.destination.servers import jot_process

from .integration_support import realm

pytestmark = pytest.mark.e2e

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


def _review(url: str, ca: ssl.SSLContext, token: str) -> dict:
    body = {"apiVersion": API_VERSION, "kind": "TokenReview", "spec": {"token": token}}
    response = httpx.post(url, json=body, verify=ca, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json()["status"])


def test_namespace_grants_through_the_token_review_webhook(tmp_path) -> None:
    with realm(tmp_path) as world:
        world.jot("admin", "grants", "add", f"user:{CAROL}", "edit", "k8s.dev")
        cert, key = write_self_signed(["127.0.0.1"], str(tmp_path))
        args = [
            "connector", "webhook", "--issuer", world.url, "--name", "k8s",
            "--access-key-file", str(world.key_file("web-connector")),
            "--listen", "127.0.0.1:0", "--tls-cert", str(cert), "--tls-key", str(key),
        ]  # fmt: skip
        ca = ssl.create_default_context(cafile=str(cert))
        with jot_process(*args) as url:
            carol = _review(url, ca, world.token(CAROL, "k8s"))
            assert carol["authenticated"] is True
            assert carol["user"]["username"] == CAROL
            assert carol["user"]["groups"] == ["jot:role:edit:dev"]
            alice = _review(url, ca, world.token(ALICE, "k8s"))
            assert alice["user"]["groups"] == ["ops", "jot:role:admin"]
            # A namespace grant added now reaches the webhook without a restart.
            world.jot("admin", "grants", "add", f"user:{BOB}", "edit", "k8s.staging")
            bob_token, deadline = world.token(BOB, "k8s"), time.monotonic() + 10
            while True:
                bob = _review(url, ca, bob_token)
                if "jot:role:edit:staging" in bob["user"]["groups"]:
                    break
                assert time.monotonic() < deadline, bob
                time.sleep(0.2)
            assert bob["user"]["groups"] == ["jot:role:view", "jot:role:edit:staging"]
            # Another destination's token: not authenticated here.
            web = _review(url, ca, world.token(ALICE, "web"))
            assert web["authenticated"] is False
