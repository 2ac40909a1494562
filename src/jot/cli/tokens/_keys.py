"""Key input and output for the token tools: key files, JWKS files and URLs, private files.

Key files may be PEM (optionally password-protected), DER, OpenSSH, JWK JSON or a JWKS. A
password comes from an environment variable named by ``--password-env`` or, failing that, from
a prompt. Private keys are written with mode 0600 and never over an existing file unless asked.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from urllib.parse import urlsplit

import click
from cryptography.hazmat.primitives import serialization

from jot.cli.tokens._common import MAX_INPUT, CommandError, read_input
from jot.jose import Key, KeySet, jwk
from jot.jose.errors import InvalidKeyError

__all__ = [
    "JWKS_TIMEOUT",
    "fetch_jwks",
    "key_from_bytes",
    "load_jwks",
    "load_key",
    "load_private_key",
    "write_output",
]

#: Seconds allowed for fetching a JWKS URL (connect, and each read).
JWKS_TIMEOUT = 10.0


def _is_jwks(data: bytes) -> bool:
    # A JWKS is a JSON object with a "keys" member; the strict parse happens in KeySet.
    if not data.lstrip().startswith(b"{"):
        return False
    try:
        value = json.loads(data)
    except ValueError:
        return False
    return isinstance(value, dict) and "keys" in value


def _needs_password(data: bytes) -> bool:
    stripped = data.strip()
    try:
        if stripped.startswith(b"-----BEGIN OPENSSH PRIVATE KEY"):
            serialization.load_ssh_private_key(stripped, None)
        elif b"PRIVATE KEY-----" in stripped.split(b"\n", 1)[0]:
            serialization.load_pem_private_key(stripped, None)
    except TypeError:  # `cryptography` says "password was not given but key is encrypted".
        return True
    except Exception:  # Anything else is not about the password: let import_key explain.
        return False
    return False


def _password(password_env: str | None, source: str) -> bytes | None:
    if password_env is None:
        return None
    value = os.environ.get(password_env)
    if value is None:
        raise CommandError(f"--password-env: the environment variable {password_env} is not set")
    return value.encode("utf-8")


def _prompt_password(source: str) -> bytes:
    if source == "-":
        raise CommandError("the key on stdin is encrypted: give its password with --password-env")
    try:
        value: str = click.prompt(f"Password for {source}", hide_input=True, err=True)
    except click.Abort:
        raise CommandError(
            f"the key in {source} is encrypted: give its password with --password-env"
        ) from None
    return value.encode("utf-8")


def load_jwks(data: bytes, *, origin: str) -> KeySet:
    """Parse a JWKS, warning on stderr about each key it cannot use."""
    keyset = KeySet.from_json(data)
    for index, reason in keyset.rejected:
        click.echo(f"warning: {origin}: key #{index} skipped: {reason}", err=True)
    if not len(keyset):
        raise CommandError(f"{origin}: the JWKS has no usable key")
    return keyset


def load_key(source: str, *, password_env: str | None = None) -> Key | KeySet:
    """A key or a key set from a file (or stdin for ``"-"``)."""
    return key_from_bytes(read_input(source, what="key file"), source, password_env)


def key_from_bytes(data: bytes, source: str, password_env: str | None) -> Key | KeySet:
    """Parse key file contents read from ``source`` (a path, or ``"-"`` for stdin)."""
    origin = "stdin" if source == "-" else source
    if _is_jwks(data):
        return load_jwks(data, origin=origin)
    password = _password(password_env, source)
    try:
        return jwk.import_key(data, password=password)
    except InvalidKeyError as exc:
        if password is None and _needs_password(data):
            return jwk.import_key(data, password=_prompt_password(source))
        raise CommandError(f"{origin}: {exc.description}") from None


def load_private_key(source: str, *, password_env: str | None = None) -> Key:
    """One private key, for signing."""
    loaded = load_key(source, password_env=password_env)
    origin = "stdin" if source == "-" else source
    if isinstance(loaded, KeySet):
        private = [key for key in loaded if key.is_private]
        if len(private) != 1:
            raise CommandError(f"{origin}: a JWKS must hold exactly one private key to sign")
        loaded = private[0]
    if not loaded.is_private:
        raise CommandError(f"{origin}: this is a public key; signing needs the private key")
    return loaded


def _check_jwks_url(url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and host:
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return
        raise CommandError("--jwks: plain http is allowed only on loopback; use https")
    raise CommandError(f"--jwks: {url!r} is not an https URL")


def fetch_jwks(url: str, *, limit: int = MAX_INPUT) -> KeySet:
    """Fetch a JWKS over https (or http on loopback), refusing bodies over ``limit`` bytes."""
    _check_jwks_url(url)
    import httpx  # Imported here: only this path needs the network.

    body = bytearray()
    try:
        with httpx.stream(
            "GET", url, timeout=JWKS_TIMEOUT, headers={"Accept": "application/json"}
        ) as response:
            if response.status_code != 200:
                raise CommandError(f"--jwks: {url} answered HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise CommandError(f"--jwks: the JWKS at {url} is larger than {limit} bytes")
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise CommandError(f"--jwks: could not fetch {url}: {reason}") from None
    return load_jwks(bytes(body), origin=url)


def write_output(path: str | None, data: str, *, private: bool, force: bool) -> None:
    """Write to stdout (``None`` or ``"-"``) or to a file: 0600 for private material.

    An existing file is replaced only with ``force``, and then atomically, so that a failed
    write never leaves half a key behind.
    """
    text = data if data.endswith("\n") else data + "\n"
    if path is None or path == "-":
        click.echo(text, nl=False)
        return
    mode = 0o600 if private else 0o644
    if not force:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        except FileExistsError:
            raise CommandError(f"{path} exists; pass --force to overwrite it") from None
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        return
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".jot-", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
