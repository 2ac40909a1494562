"""`jot encrypt` and `jot decrypt`: compact JWE from the command line.

``jot encrypt --key recipient.pem < secret.txt > secret.jwe`` encrypts to the recipient's
public key (or a shared JWK secret); ``jot decrypt --key private.pem < secret.jwe`` opens it.
The allowed algorithms are the key's own (``alg`` in its JWK), else the ones named with
``--alg``, else the usual ones of its family; the token never chooses a key family. Every
mistake is one line on stderr: exit status 2 for usage (bad option, unreadable key), 1 for a
token that cannot be decrypted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from jot.jose import Key, KeySet, jwe, jwk
from jot.jose.errors import InvalidTokenError, JoseError, JotError

__all__ = ["MAX_INPUT", "decrypt", "encrypt"]

#: Inputs (plaintext, token, key file) larger than this are refused before they are parsed.
MAX_INPUT = 1024 * 1024

_ENCS = ("A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128GCM", "A192GCM", "A256GCM")
# What `jot decrypt` accepts from a key that is bound to no algorithm: its family's algorithms
# (all of them safe with one key), or for a symmetric key only the one `jot encrypt` uses.
_FAMILIES = {
    "RSA": ["RSA-OAEP-256", "RSA-OAEP", "RSA-OAEP-384", "RSA-OAEP-512"],
    "EC": ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"],
    "OKP": ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"],
}


class CommandError(click.ClickException):
    """A usage or environment error: one line, exit status 2."""

    exit_code = 2


class TokenRejected(click.ClickException):
    """The token cannot be decrypted: one line, exit status 1."""

    exit_code = 1


@contextmanager
def _friendly_errors() -> Iterator[None]:
    try:
        yield
    except InvalidTokenError as exc:
        raise TokenRejected(f"invalid token ({exc.error}): {exc.description}") from None
    except JoseError as exc:
        raise CommandError(exc.description) from None
    except JotError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise CommandError(f"{exc.strerror or exc}{where}") from None
    except UnicodeError:
        raise CommandError("the input is not valid UTF-8 text") from None


def _read(source: str, what: str) -> bytes:
    if source == "-":
        data = sys.stdin.buffer.read(MAX_INPUT + 1)
    else:
        with open(source, "rb") as file:
            data = file.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise CommandError(f"the {what} is larger than {MAX_INPUT} bytes")
    return data


def _env(name: str, option: str) -> bytes:
    value = os.environ.get(name)
    if value is None:
        raise CommandError(f"{option}: the environment variable {name} is not set")
    return value.encode("utf-8")


def _load_keys(path: str | None, key_password_env: str | None, password_env: str | None,
               pbes2_alg: str | None) -> Key | KeySet:  # fmt: skip
    if (path is None) == (password_env is None):
        raise CommandError("give exactly one of --key FILE and --password-env VAR")
    if password_env is not None:
        alg = pbes2_alg or "PBES2-HS512+A256KW"
        return jwe.password_key(_env(password_env, "--password-env"), alg=alg)
    assert path is not None
    data = _read(path, "key file")
    if data.lstrip().startswith(b"{") and b'"keys"' in data:
        return KeySet.from_json(data)
    password = _env(key_password_env, "--key-password-env") if key_password_env else None
    return jwk.import_key(data, password=password)


def _algorithms(keys: Key | KeySet, named: tuple[str, ...]) -> list[str] | None:
    if named:
        return list(named)
    members = [keys] if isinstance(keys, Key) else list(keys)
    if all(key.alg is not None for key in members):
        return None  # The keys' own algorithms.
    names: list[str] = []
    for key in members:
        family = _FAMILIES.get(key.kty) if key.alg is None else None
        names.extend(family or [jwe.default_algorithm(key)])
    return list(dict.fromkeys(names))


_KEY = click.option("--key", "key_path", metavar="FILE", help="Key file: PEM, DER, JWK or JWKS.")
_IN = click.option("--in", "source", default="-", show_default=True, metavar="FILE|-",
                   help="Read from this file, or stdin.")  # fmt: skip
_KEY_PASSWORD = click.option(
    "--key-password-env",
    metavar="VAR",
    help="Environment variable holding the key file's password.",
)
_PASSWORD = click.option(
    "--password-env", metavar="VAR", help="Use the password in this environment variable (PBES2)."
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
@_KEY_PASSWORD
@_PASSWORD
def encrypt(key_path: str | None, alg: str | None, enc: str, source: str, cty: str | None,
            compress: bool, p2c: int | None, key_password_env: str | None,
            password_env: str | None) -> None:  # fmt: skip
    """Encrypt the input into a compact JWE for the key's owner."""
    with _friendly_errors():
        keys = _load_keys(key_path, key_password_env, password_env, alg)
        if isinstance(keys, KeySet):
            if len(keys) != 1:
                raise CommandError("the JWKS must hold exactly one key to encrypt to")
            keys = keys.keys[0]
        key = keys.public() if keys.kty in ("RSA", "EC", "OKP") else keys
        headers: dict[str, object] = {"cty": cty} if cty else {}
        if p2c is not None:
            headers["p2c"] = p2c
        plaintext = _read(source, "input")
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
@_KEY_PASSWORD
@_PASSWORD
def decrypt(key_path: str | None, source: str, algs: tuple[str, ...], encs: tuple[str, ...],
            allow_zip: bool, key_password_env: str | None,
            password_env: str | None) -> None:  # fmt: skip
    """Decrypt a compact JWE and write its plaintext to stdout."""
    with _friendly_errors():
        keys = _load_keys(key_path, key_password_env, password_env, algs[0] if algs else None)
        token = _read(source, "token").decode("ascii").strip()
        if not token:
            raise CommandError("the token is empty")
        opened = jwe.decrypt_compact(token, keys, algorithms=_algorithms(keys, algs),
                                     encryptions=encs or None, allow_zip=allow_zip)  # fmt: skip
    click.echo(opened.plaintext, nl=False)  # Bytes go to the binary stream unchanged.
