"""`jot jwk …`: generate keys, compute thumbprints, convert PEM ↔ JWK, strip private parts.

Key files written by these commands are mode 0600 when they hold private material, and an
existing file is never replaced without ``--force``.
"""

from __future__ import annotations

import json

import click

from jot.cli.tokens._common import CommandError, friendly_errors, read_input
from jot.cli.tokens._keys import key_from_bytes, load_key, write_output
from jot.jose import Key, KeySet
from jot.jose import jwe as jose_jwe
from jot.jose import jwk as jose_jwk
from jot.jose.jwa import SIGNATURE_ALGORITHMS, default_algorithm, get_algorithm

__all__ = ["KEY_TYPES", "jwk"]

#: `--type` choices: the `jwk.generate` kind and size of each.
KEY_TYPES: dict[str, tuple[str, int | None]] = {
    "ed25519": ("Ed25519", None),
    "ed448": ("Ed448", None),
    "p256": ("P-256", None),
    "p384": ("P-384", None),
    "p521": ("P-521", None),
    "secp256k1": ("secp256k1", None),
    "x25519": ("X25519", None),
    "x448": ("X448", None),
    "rsa2048": ("RSA", 2048),
    "rsa3072": ("RSA", 3072),
    "rsa4096": ("RSA", 4096),
    "oct256": ("oct", 256),
    "oct384": ("oct", 384),
    "oct512": ("oct", 512),
}

_out_option = click.option("--out", metavar="FILE", help="Write here instead of stdout.")
_force_option = click.option("--force", is_flag=True, help="Overwrite an existing --out file.")
_password_option = click.option(
    "--password-env", metavar="VAR", help="Environment variable holding the PEM's password."
)


@click.group()
def jwk() -> None:
    """Generate, convert and inspect JSON Web Keys."""


def _bind(key: Key, alg: str | None, kid: str | None) -> Key:
    """A copy of ``key`` bound to ``alg`` (checked to fit) and with ``kid`` (or its thumbprint).

    A JWE key management algorithm (``ECDH-ES``, ``RSA-OAEP-256``, ``A256KW`` …) also sets
    ``use`` to ``enc``; a signature algorithm sets nothing else.
    """
    use = None
    if alg in SIGNATURE_ALGORITHMS:
        get_algorithm(alg).check_key(key)
    elif alg is not None:
        jose_jwe.check_key(key, alg)  # An unknown name is refused here.
        use = "enc"
    return jose_jwk.import_key(key, alg=alg, use=use, kid=kid or key.kid or key.thumbprint())


def _default_alg(key: Key) -> str:
    # X25519 and X448 keys only agree on keys; every other type signs by default.
    return "ECDH-ES" if key.curve in ("X25519", "X448") else default_algorithm(key)


def _serialize(key: Key, fmt: str, *, private: bool) -> str:
    if fmt == "pem":
        if key.kty == "oct":
            raise CommandError("a symmetric (oct) key has no PEM form; use --format jwk")
        return key.to_pem(private=private).decode("ascii")
    return json.dumps(key.to_dict(private=private), indent=2)


@jwk.command()
@click.option(
    "--type", "key_type", required=True, type=click.Choice(list(KEY_TYPES)), help="Key type."
)
@click.option(
    "--alg",
    help="Bind the key to this signature or JWE key management algorithm "
    "(default: its family's usual one; ECDH-ES for x25519/x448).",
)
@click.option("--kid", help="Key id (default: the RFC 7638 thumbprint).")
@click.option(
    "--format", "fmt", type=click.Choice(["jwk", "pem"]), default="jwk", help="Output format."
)
@_out_option
@_force_option
def generate(
    key_type: str, alg: str | None, kid: str | None, fmt: str, out: str | None, force: bool
) -> None:
    """Generate a private key (files are written with mode 0600)."""
    kind, size = KEY_TYPES[key_type]
    with friendly_errors():
        key = jose_jwk.generate(kind, size=size)
        key = _bind(key, alg or _default_alg(key), kid)
        write_output(out, _serialize(key, fmt, private=True), private=True, force=force)
    if out not in (None, "-"):
        click.echo(f"wrote {key_type} private key to {out} (mode 0600), kid {key.kid}", err=True)


@jwk.command()
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option(
    "--hash",
    "hash_name",
    type=click.Choice(["sha256", "sha384", "sha512"]),
    help="The hash (default sha256).",
)
@click.option("--uri", is_flag=True, help="Print the RFC 9278 thumbprint URI.")
@_password_option
def thumbprint(source: str, hash_name: str | None, uri: bool, password_env: str | None) -> None:
    """Print a key's RFC 7638 thumbprint (its default kid)."""
    with friendly_errors():
        key = load_key(source, password_env=password_env)
        if isinstance(key, KeySet):
            raise CommandError("this is a JWKS; give a single key")
        name = hash_name or "sha256"
        click.echo(key.thumbprint_uri(name) if uri else key.thumbprint(name))


@jwk.command()
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option("--to", "fmt", type=click.Choice(["jwk", "pem"]), help="Default: the other one.")
@click.option("--alg", help="Bind the JWK to this algorithm.")
@click.option("--kid", help="Key id for the JWK (default: the key's own, or its thumbprint).")
@_password_option
@_out_option
@_force_option
def convert(
    source: str,
    fmt: str | None,
    alg: str | None,
    kid: str | None,
    password_env: str | None,
    out: str | None,
    force: bool,
) -> None:
    """Convert a key between PEM and JWK (private stays private: see `jot jwk public`)."""
    with friendly_errors():
        data = read_input(source, what="key file")
        key = key_from_bytes(data, source, password_env)
        if isinstance(key, KeySet):
            raise CommandError("this is a JWKS; give a single key")
        target = fmt or ("pem" if data.lstrip().startswith(b"{") else "jwk")
        key = _bind(key, alg, kid)
        text = _serialize(key, target, private=key.is_private)
        write_output(out, text, private=key.is_private, force=force)


@jwk.command()
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option("--format", "fmt", type=click.Choice(["jwk", "pem"]), help="Default: as the input.")
@_password_option
@_out_option
@_force_option
def public(
    source: str, fmt: str | None, password_env: str | None, out: str | None, force: bool
) -> None:
    """Print the public part of a key (or of every key in a JWKS)."""
    with friendly_errors():
        data = read_input(source, what="key file")
        key = key_from_bytes(data, source, password_env)
        if isinstance(key, KeySet):
            if fmt == "pem":
                raise CommandError("a JWKS has no single PEM form; use --format jwk")
            text = json.dumps(key.to_dict(private=False), indent=2)
        else:
            if key.kty == "oct":
                raise CommandError("a symmetric (oct) key has no public part")
            target = fmt or ("jwk" if data.lstrip().startswith(b"{") else "pem")
            text = _serialize(key.public(), target, private=False)
        write_output(out, text, private=False, force=force)
