"""The `make run` demo (replaced by the authority server once it exists).

It walks through jot's core in five steps: a key, a token shaped like the design's, the token
decoded for people, the token verified, and a one-character change rejected.
"""

from __future__ import annotations

import sys

from jot.api.claims import TOKEN_TYPE
from jot.cli._tokens_common import now
from jot.cli._tokens_render import Printer, inspect_token, render, wants_colour
from jot.cli.tokens import build_claims
from jot.jose import Key, jwk, jwt
from jot.jose.errors import InvalidTokenError

__all__ = ["main", "tamper"]

ISSUER = "https://auth.example.com"
AUDIENCE = "web"


def tamper(token: str) -> str:
    """The token with one character of its payload changed (still valid base64url)."""
    header, payload, signature = token.split(".")
    middle = len(payload) // 2
    swapped = "B" if payload[middle] == "A" else "A"
    return f"{header}.{payload[:middle]}{swapped}{payload[middle + 1 :]}.{signature}"


def _verify(token: str, key: Key, current: float) -> str:
    claims = jwt.decode(token, key, issuer=ISSUER, audience=AUDIENCE, typ=TOKEN_TYPE, now=current)
    return f"{claims['name']} in {', '.join(claims['groups'])}"


def main() -> None:
    """Run the demo, printing to stdout; exit 1 if anything behaves unexpectedly."""
    out = Printer(wants_colour())
    current = now()
    out.line(
        ("jot demo: ", "bold"), ("a short-lived, signed identity token, start to finish", None)
    )
    out.line(("", None))

    key = jwk.generate("Ed25519", alg="EdDSA")
    out.heading("1. A signing key (Ed25519; its kid is the RFC 7638 thumbprint)")
    out.line(("   kid ", "dim"), (key.kid or "", None))
    out.line(("", None))

    claims = build_claims(
        {"name": "alice@example.com", "groups": ["developers", "ops"]},
        issued_at=int(current),
        lifetime=300,
        first={"iss": ISSUER, "sub": "user:alice", "aud": AUDIENCE},
    )
    token = jwt.encode(claims, key, typ=TOKEN_TYPE)
    out.heading(f"2. A token for alice@example.com, audience {AUDIENCE!r}, valid 5 minutes")
    out.line((token, None))
    out.line(("", None))

    out.heading("3. Decoded, as `jot decode` shows it (no key needed)")
    out.line(("", None))
    render(inspect_token(token, current), out)
    out.line(("", None))

    out.heading("4. Verified with the public key, as `jot verify` does")
    who = _verify(token, key.public(), current)
    out.line(
        ("   ✓ valid: ", "bold green"), (f"signature, issuer, audience, typ and times: {who}", None)
    )
    out.line(("", None))

    out.heading("5. The same token with one character of its payload changed")
    try:
        _verify(tamper(token), key.public(), current)
    except InvalidTokenError as exc:
        out.line(("   ✗ rejected: ", "bold red"), (f"{exc.error}: {exc.description}", None))
    else:
        out.line(("   the changed token was accepted: this is a bug", "bold red"))
        sys.exit(1)
    out.line(("", None))
    out.line(("Try it: ", "bold"), ("jot jwk generate --type ed25519 --out key.json && "
              "jot sign --key key.json --aud web | jot decode", None))  # fmt: skip


if __name__ == "__main__":
    main()
