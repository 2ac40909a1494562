"""`jot encrypt` and `jot decrypt`: compact JWE from the command line.

``jot encrypt --key recipient.pem < secret.txt > secret.jwe`` encrypts to the recipient's
public key (or a shared JWK secret); ``jot decrypt --key private.pem < secret.jwe`` opens it.
``--passphrase-env VAR`` uses a passphrase (PBES2) instead of a key file. The algorithms a
token may use are the ones named with ``--alg``, else the key's own (``alg`` in its JWK), else
the usual ones of its family; the token never chooses a key family. Every mistake is one line
on stderr: exit status 2 for usage (bad option, unreadable key), 1 for a token that cannot be
decrypted.
"""

from __future__ import annotations

import os

import click

from jot.cli.tokens._common import CommandError, friendly_errors, read_input
from jot.cli.tokens._keys import load_key
from jot.jose import Key, KeySet, jwe
from jot.jose.errors import UsageError

__all__ = ["decrypt", "encrypt"]

_ENCS = ("A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128GCM", "A192GCM", "A256GCM")
# What `jot decrypt` accepts from a key that is bound to no algorithm: its family's algorithms
# (all of them safe with one key), or for a symmetric key only the one `jot encrypt` uses.
_FAMILIES = {
    "RSA": ["RSA-OAEP-256", "RSA-OAEP", "RSA-OAEP-384", "RSA-OAEP-512"],
    "EC": ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"],
    "OKP": ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"],
}


def _load_keys(
    path: str | None, password_env: str | None, passphrase_env: str | None, pbes2: str | None
) -> Key | KeySet:
    if (path is None) == (passphrase_env is None):
        raise CommandError("give exactly one of --key FILE and --passphrase-env VAR")
    if passphrase_env is None:
        assert path is not None
        return load_key(path, password_env=password_env)
    passphrase = os.environ.get(passphrase_env)
    if passphrase is None:
        raise CommandError(
            f"--passphrase-env: the environment variable {passphrase_env} is not set"
        )
    return jwe.password_key(passphrase, alg=pbes2 or "PBES2-HS512+A256KW")


def _algorithms(keys: Key | KeySet, named: tuple[str, ...]) -> list[str] | None:
    if named:
        return list(named)
    members = [keys] if isinstance(keys, Key) else list(keys)
    if all(key.alg is not None for key in members):
        return None  # The keys' own algorithms (a JWKS's signing keys are skipped).
    names: list[str] = []
    for key in members:
        if key.use == "sig":
            continue
        if key.alg is None:
            names.extend(_FAMILIES.get(key.kty) or [jwe.default_algorithm(key)])
            continue
        try:
            names.append(jwe.default_algorithm(key))
        except UsageError:  # Bound to a signature algorithm: not an encryption key.
            continue
    return list(dict.fromkeys(names)) or None


_KEY = click.option("--key", "key_path", metavar="FILE", help="Key file: PEM, DER, JWK or JWKS.")
_IN = click.option("--in", "source", default="-", show_default=True, metavar="FILE|-",
                   help="Read from this file, or stdin.")  # fmt: skip
_PASSWORD = click.option(
    "--password-env",
    metavar="VAR",
    help="Environment variable holding the key file's password (else you are prompted).",
)
_PASSPHRASE = click.option(
    "--passphrase-env",
    metavar="VAR",
    help="Encrypt with the passphrase in this environment variable (PBES2), not a key file.",
)


@click.command()
@_KEY
@click.option("--alg", help="Key management algorithm (default: the key's usual one).")
@click.option("--enc", type=click.Choice(_ENCS), default=jwe.DEFAULT_ENC, show_default=True,
              help="Content encryption algorithm.")  # fmt: skip
@_IN
@click.option("--cty", help="The content type header, e.g. JWT or text/plain.")
@click.option("--zip", "compress", is_flag=True, help="Compress (DEF) before encrypting.")
@click.option("--p2c", type=click.IntRange(1000), help="PBES2 iteration count.")
@_PASSWORD
@_PASSPHRASE
def encrypt(key_path: str | None, alg: str | None, enc: str, source: str, cty: str | None,
            compress: bool, p2c: int | None, password_env: str | None,
            passphrase_env: str | None) -> None:  # fmt: skip
    """Encrypt the input into a compact JWE for the key's owner."""
    with friendly_errors():
        keys = _load_keys(key_path, password_env, passphrase_env, alg)
        if isinstance(keys, KeySet):
            if len(keys) != 1:
                raise CommandError("the JWKS must hold exactly one key to encrypt to")
            keys = keys.keys[0]
        key = keys.public() if keys.kty in ("RSA", "EC", "OKP") else keys
        headers: dict[str, object] = {"cty": cty} if cty else {}
        if p2c is not None:
            headers["p2c"] = p2c
        plaintext = read_input(source, what="input")
        token = jwe.encrypt_compact(plaintext, key, alg=alg, enc=enc, headers=headers,
                                    zip="DEF" if compress else None)  # fmt: skip
    click.echo(token)


@click.command()
@_KEY
@_IN
@click.option("--alg", "algs", multiple=True, help="Allowed key management algorithm(s).")
@click.option("--enc", "encs", multiple=True, type=click.Choice(_ENCS),
              help="Allowed content encryption(s) (default: all).")  # fmt: skip
@click.option("--allow-zip", is_flag=True, help="Accept compressed (DEF) content, bounded.")
@_PASSWORD
@_PASSPHRASE
def decrypt(key_path: str | None, source: str, algs: tuple[str, ...], encs: tuple[str, ...],
            allow_zip: bool, password_env: str | None,
            passphrase_env: str | None) -> None:  # fmt: skip
    """Decrypt a compact JWE and write its plaintext to stdout."""
    with friendly_errors():
        keys = _load_keys(key_path, password_env, passphrase_env, algs[0] if algs else None)
        token = read_input(source, what="token").decode("ascii").strip()
        if not token:
            raise CommandError("the token is empty")
        opened = jwe.decrypt_compact(token, keys, algorithms=_algorithms(keys, algs),
                                     encryptions=encs or None, allow_zip=allow_zip)  # fmt: skip
    click.echo(opened.plaintext, nl=False)  # Bytes go to the binary stream unchanged.
