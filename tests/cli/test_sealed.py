"""Sealed tokens from the command line (issue 19 item 5): a destination's public key from a
file, ``jot token`` and ``jot decode`` saying what happened."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jot.jose import jwk


def test_a_destination_with_an_encryption_key(cli: Any, tmp_path: Path) -> None:
    private = jwk.generate("X25519")
    secret, public = tmp_path / "vault.jwk", tmp_path / "vault.pub.pem"
    secret.write_text(json.dumps(private.to_dict(private=True)))
    public.write_bytes(private.public().to_pem())
    # The private half is refused before anything is sent.
    out = cli("destinations", "add", "vault", "--encryption-key", str(secret), code=2)
    assert f"{secret} holds a private key: give its public half (jot jwk public {secret})" in out
    cli("destinations", "add", "vault", "--encryption-key", str(public))
    assert f"tokens:   sealed to {private.kid} (ECDH-ES)" in cli("destinations", "show", "vault")
    cli("grants", "add", "user:admin", "reader", "vault")

    note, token = cli("token", "--for", "vault").splitlines()
    assert note == (
        f"the token is sealed: signed, then encrypted (ECDH-ES, A256GCM) to vault's key "
        f"{private.kid}; only vault can read it"
    )
    assert token.count(".") == 4
    decoded = cli("decode", token)
    assert f'(sealed: a signed token inside a JWE encrypted to the key "{private.kid}"' in decoded
    opened = cli("decrypt", "--key", str(secret), input=token)
    assert json.loads(cli("decode", "--json", opened.strip()))["payload"]["aud"] == "vault"

    cli("destinations", "update", "vault", "--no-encryption-key")
    assert "tokens:   signed only" in cli("destinations", "show", "vault")
    assert cli("token", "--for", "vault", "--refresh").count(".") == 2
    both = cli("destinations", "update", "vault", "--encryption-key", str(public),
               "--no-encryption-key", code=2)  # fmt: skip
    assert "give --encryption-key or --no-encryption-key, not both" in both
    bad = tmp_path / "bad.jwk"
    bad.write_text("{}")
    assert "bad.jwk" in cli("destinations", "update", "vault", "--encryption-key", str(bad), code=2)
