"""A walk-through of jot's signing core, in five steps, with nothing but the installed package.

A key, a token shaped like the ones the authority issues, the token as ``jot decode`` shows
it, the token verified, and a one-character change rejected. Run it from a checkout after
``make install``::

    .venv/bin/python examples/demo.py

It exits 1 if the changed token is accepted. The signing and verifying use the public
``jot.jose`` API; step 3 runs the real ``jot decode``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from jot.api.claims import TOKEN_TYPE
from jot.jose import Key, jwk, jwt
from jot.jose.errors import InvalidTokenError

__all__ = ["main", "tamper"]

ISSUER = "https://auth.example.com"
AUDIENCE = "web"
LIFETIME = 300
#: `nbf` this many seconds before `iat`: the clock-skew allowance the authority uses too.
SKEW = 300


def tamper(token: str) -> str:
    """The token with one character of its payload changed (still valid base64url)."""
    header, payload, signature = token.split(".")
    middle = len(payload) // 2
    swapped = "B" if payload[middle] == "A" else "A"
    return f"{header}.{payload[:middle]}{swapped}{payload[middle + 1 :]}.{signature}"


def claims(now: int) -> dict[str, Any]:
    """Claims in the order and shape of the authority's tokens."""
    return {
        "iss": ISSUER,
        "sub": "user:alice",
        "aud": AUDIENCE,
        "name": "alice@example.com",
        "groups": ["developers", "ops"],
        "iat": now,
        "nbf": now - SKEW,
        "exp": now + LIFETIME,
        "nonce": secrets.token_urlsafe(16),
        "jti": str(uuid.uuid4()),
    }


def jot_decode(token: str, now: int) -> str:
    """What ``jot decode`` prints for ``token``, its clock fixed to the demo's."""
    jot = shutil.which("jot") or str(Path(sys.executable).with_name("jot"))
    env = {**os.environ, "JOT_NOW": str(now), "NO_COLOR": "1"}
    done = subprocess.run(
        [jot, "decode", token], capture_output=True, text=True, env=env, check=True, timeout=60
    )
    return done.stdout


def _verify(token: str, key: Key, now: int) -> str:
    found = jwt.decode(token, key, issuer=ISSUER, audience=AUDIENCE, typ=TOKEN_TYPE, now=now)
    return f"{found['name']} in {', '.join(found['groups'])}"


def main() -> None:
    """Run the walk-through, printing to stdout; exit 1 if a changed token is accepted."""
    now = int(time.time())
    print("jot demo: a short-lived, signed identity token, start to finish\n")

    key = jwk.generate("Ed25519", alg="EdDSA")
    print("1. A signing key (Ed25519; its kid is the RFC 7638 thumbprint)")
    print(f"   kid {key.kid}\n")

    token = jwt.encode(claims(now), key, typ=TOKEN_TYPE)
    print(f"2. A token for alice@example.com, audience {AUDIENCE!r}, valid 5 minutes")
    print(f"{token}\n")

    print("3. Decoded by `jot decode` (no key needed)\n")
    print(jot_decode(token, now))

    print("4. Verified with the public key, as `jot verify` does")
    who = _verify(token, key.public(), now)
    print(f"   ✓ valid: signature, issuer, audience, typ and times: {who}\n")

    print("5. The same token with one character of its payload changed")
    try:
        _verify(tamper(token), key.public(), now)
    except InvalidTokenError as exc:
        print(f"   ✗ rejected: {exc.error}: {exc.description}\n")
    else:
        print("   the changed token was accepted: this is a bug")
        sys.exit(1)
    print(
        "Try it: jot jwk generate --type ed25519 --out key.json && "
        "jot sign --key key.json --aud web | jot decode"
    )


if __name__ == "__main__":
    main()
