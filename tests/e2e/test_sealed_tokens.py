"""End to end (issue 19 item 5): a real forward-auth connector publishes its encryption key to
a real `jot server`, which then seals every token for that destination; the key rolls over."""

from __future__ import annotations

import httpx
import pytest

from tests.destination.servers import jot_process

from .integration_support import realm

pytestmark = pytest.mark.e2e

ALICE = "alice@example.com"


def _check(url: str, token: str) -> int:
    response = httpx.get(url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return response.status_code


def test_publish_seal_and_roll_over(tmp_path) -> None:
    with realm(tmp_path) as world:
        world.jot("admin", "grants", "add", "user:web-connector", "connector", "jot.db")
        old, new = tmp_path / "old.jwk", tmp_path / "new.jwk"
        world.jot("admin", "jwk", "generate", "--type", "x25519", "--out", str(old))
        world.jot(
            "admin",
            "jwk",
            "generate",
            "--type",
            "rsa2048",
            "--alg",
            "RSA-OAEP-256",
            "--out",
            str(new),
        )
        base = ["connector", "forward-auth", "--issuer", world.url, "--name", "db",
                "--access-key-file", str(world.key_file("web-connector")),
                "--listen", "127.0.0.1:0"]  # fmt: skip

        with jot_process(*base, "--decryption-key", str(old), "--publish-key") as url:
            sealed = world.jot(ALICE, "token", "--for", "db")
            assert sealed.stdout.count(".") == 4
            assert sealed.stderr.startswith("the token is sealed: signed, then encrypted")
            assert "only db can read it" in sealed.stderr
            assert _check(url, sealed.stdout.strip()) == 200
            shown = world.jot("admin", "destinations", "show", "db").stdout
            assert "sealed to" in shown
            assert "(ECDH-ES)" in shown
            # Another destination's tokens stay signed only.
            assert world.token(ALICE, "web").count(".") == 2

        # Rollover, step 1: the connector holds both keys and publishes the new one.
        first = sealed.stdout.strip()
        both = ["--decryption-key", str(old), "--decryption-key", str(new), "--publish-key"]
        with jot_process(*base, *both) as url:
            second = world.token(ALICE, "db", refresh=True)
            assert second != first
            assert _check(url, first) == 200  # Sealed to the old key: still opens.
            assert _check(url, second) == 200
            assert "(RSA-OAEP-256)" in world.jot("admin", "destinations", "show", "db").stdout

        # Step 2, once every old token has expired: only the new key is kept.
        with jot_process(*base, "--decryption-key", str(new)) as url:
            assert _check(url, second) == 200
            assert _check(url, first) == 401
