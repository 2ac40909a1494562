"""Sealed tokens on the command line: a destination's public key read from a file, and the
one line that says a token is sealed (``jot token``, ``jot decode``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["public_key_file", "sealed_note"]


def public_key_file(path: Path) -> dict[str, Any]:
    """The public JWK in ``path`` (a JWK or PEM file). A private key is refused here, before
    anything is sent: its private half belongs to the destination alone."""
    from jot.jose import jwk
    from jot.jose.errors import JotError

    try:
        key = jwk.import_key(path.read_bytes())
    except (OSError, JotError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--encryption-key") from None
    if key.is_private:
        raise click.BadParameter(
            f"{path} holds a private key: give its public half (jot jwk public {path})",
            param_hint="--encryption-key",
        )
    return key.to_dict(private=False)


def sealed_note(token: str, destination: str) -> str | None:
    """One line saying that ``token`` is sealed and to which key, or None for a signed one."""
    if token.count(".") != 4:
        return None
    from jot.jose.errors import JotError
    from jot.jose.hazmat import decode_unverified

    try:
        header = decode_unverified(token).header
    except JotError:
        return None
    how = ", ".join(str(header[name]) for name in ("alg", "enc") if name in header)
    return (
        f"the token is sealed: signed, then encrypted ({how}) to {destination}'s key "
        f"{header.get('kid', '(no kid)')}; only {destination} can read it"
    )
