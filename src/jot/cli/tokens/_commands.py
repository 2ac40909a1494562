"""The token commands: `jot decode`, `jot verify` and `jot sign` (`jot jwk …` is in `_jwk`).

Exit status: 0 on success, 1 when a token is invalid, 2 for a usage mistake (a bad option, an
unreadable key). Errors are one line on stderr, never a traceback. ``$JOT_NOW`` (epoch seconds
or ISO-8601) fixes the clock, for tests and demos.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

import click

from jot.cli.tokens._common import (
    CommandError,
    TokenRejected,
    friendly_errors,
    now,
    parse_duration,
    read_input,
    read_token,
    relative,
    safe_json,
)
from jot.cli.tokens._keys import fetch_jwks, load_key, load_private_key
from jot.cli.tokens._render import Printer, inspect_token, render, wants_colour
from jot.jose import Key, KeySet, jwt
from jot.jose.errors import ClaimError, InvalidTokenError, JotError
from jot.jose.hazmat import decode_unverified
from jot.jose.jwa import SIGNATURE_ALGORITHMS

__all__ = ["decode", "sign", "verify"]

#: `nbf` is this many seconds before `iat` by default: the design's clock-skew allowance.
NBF_SKEW = 300

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

_password_option = click.option(
    "--password-env",
    metavar="VAR",
    help="Environment variable holding the key file's password (else you are prompted).",
)


# -- decode ---------------------------------------------------------------------------------


@click.command()
@click.argument("token", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
def decode(token: str | None, as_json: bool) -> None:
    """Show a token's header, payload and times WITHOUT checking its signature.

    TOKEN is a JWS/JWT (or a JWE, whose header only is shown); "-" or nothing reads stdin.
    """
    with friendly_errors():
        view = inspect_token(read_token(token), now())
    if as_json:
        click.echo(safe_json(view))
    else:
        render(view, Printer(wants_colour()))


# -- verify ---------------------------------------------------------------------------------


def _fitting_algorithms(keys: Key | KeySet) -> list[str]:
    """The algorithms that the given keys can verify, when the user names none."""
    members = [keys] if isinstance(keys, Key) else list(keys)
    names: set[str] = set()
    for key in members:
        for name, algorithm in SIGNATURE_ALGORITHMS.items():
            try:
                algorithm.check_key(key)
            except JotError:
                continue
            names.add(name)
    if not names:
        raise CommandError("none of the keys can verify a signature")
    return sorted(names)


def _explain(exc: InvalidTokenError, token: str, audience: Sequence[str], current: float) -> str:
    """The library's reason, made concrete with the token's values (signature already OK)."""
    reason = exc.description
    if not isinstance(exc, ClaimError):
        return reason
    claims = decode_unverified(token).payload
    value = claims.get(exc.claim) if isinstance(claims, dict) and exc.claim else None
    if exc.claim in ("exp", "nbf", "iat") and isinstance(value, int | float):
        return f"{reason} ({relative(value, current)})"
    if exc.error == "invalid_audience" and not audience:
        return f"the token is for {_shown(value)}: pass --aud to say which audience you are"
    if exc.error == "invalid_audience":
        return f"wrong audience: the token is for {_shown(value)}, not {', '.join(audience)!r}"
    if exc.error == "invalid_issuer":
        return f"wrong issuer: the token comes from {_shown(value)}"
    return reason


def _shown(value: Any) -> str:
    # repr() escapes control characters, so a claim cannot drive the terminal; and it is cut
    # short, so an error stays one readable line.
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@click.command()
@click.argument("token", required=False)
@click.option("--key", "key_file", metavar="FILE", help="PEM, JWK or JWKS file ('-': stdin).")
@click.option("--jwks", metavar="FILE_OR_URL", help="JWKS file, or an https URL to fetch.")
@click.option("--aud", "audience", multiple=True, help="Your audience name (repeatable).")
@click.option("--iss", "issuer", help="The exact issuer required.")
@click.option("--alg", "algorithms", multiple=True, help="Allowed algorithm (repeatable).")
@click.option("--typ", help="The typ header required, e.g. jot+jwt.")
@click.option("--leeway", default="0", show_default=True, help="Clock skew allowed (5s, 1m).")
@click.option("--require", multiple=True, help="A claim that must be present (repeatable).")
@_password_option
def verify(
    token: str | None,
    key_file: str | None,
    jwks: str | None,
    audience: tuple[str, ...],
    issuer: str | None,
    algorithms: tuple[str, ...],
    typ: str | None,
    leeway: str,
    require: tuple[str, ...],
    password_env: str | None,
) -> None:
    """Check a token's signature and claims; print the claims, or exit 1 with the reason.

    Without --alg, the algorithms allowed are those bound to the keys (or, for a key bound to
    none, every algorithm of its type).
    """
    if (key_file is None) == (jwks is None):
        raise click.UsageError("give exactly one of --key FILE and --jwks FILE_OR_URL")
    if "-" in (key_file, jwks) and token in (None, "-"):
        raise CommandError("the key and the token cannot both come from stdin")
    leeway_seconds = parse_duration(leeway, option="--leeway")
    with friendly_errors():
        keys = _verification_keys(key_file, jwks, password_env)
        token = read_token(token)
        current = now()
        try:
            verified = jwt.decode_complete(
                token,
                keys,
                algorithms=list(algorithms) or _fitting_algorithms(keys),
                issuer=issuer,
                audience=list(audience) or None,
                typ=typ,
                leeway=leeway_seconds,
                require=("exp", *require),
                now=current,
            )
        except InvalidTokenError as exc:
            reason = _explain(exc, token, audience, current)
            raise TokenRejected(f"invalid token ({exc.error}): {reason}") from None
    click.echo(safe_json(verified.claims))
    exp = verified.claims.get("exp")
    until = f"; expires {relative(exp, current)}" if isinstance(exp, int | float) else ""
    kid = f", kid {verified.key.kid}" if verified.key.kid else ""
    click.echo(f"valid: {verified.header['alg']} signature{kid}; claims checked{until}", err=True)


def _verification_keys(
    key_file: str | None, jwks: str | None, password_env: str | None
) -> Key | KeySet:
    if jwks is not None and _URL.match(jwks):
        return fetch_jwks(jwks)
    loaded = load_key(key_file or jwks or "-", password_env=password_env)
    if jwks is not None and not isinstance(loaded, KeySet):
        raise CommandError(f"--jwks: {jwks} holds one key, not a JWKS; use --key")
    return loaded  # A private key verifies with its public half; no need to strip it.


# -- sign -----------------------------------------------------------------------------------


def _parse_claim(text: str) -> tuple[str, Any]:
    """``name=text`` gives a string; ``name:=JSON`` gives any JSON value (httpie's syntax)."""
    name, sep, value = text.partition("=")
    if not sep or not name or name == ":":
        raise CommandError(f"--claim {text!r}: write name=text or name:=JSON")
    if not name.endswith(":"):
        return name, value
    try:
        return name[:-1], json.loads(value)
    except ValueError:
        raise CommandError(f"--claim {text!r}: the value after := is not JSON") from None


def _claims_from_file(source: str) -> dict[str, Any]:
    try:
        value = json.loads(read_input(source, what="claims file"))
    except ValueError:
        raise CommandError(f"--claims-json {source}: not valid JSON") from None
    if not isinstance(value, dict):
        raise CommandError(f"--claims-json {source}: the JSON must be an object")
    return value


def build_claims(
    given: dict[str, Any], *, issued_at: int, lifetime: float, first: dict[str, Any]
) -> dict[str, Any]:
    """The design's claims in the design's order: iss, sub, aud, the rest, times, nonce, jti.

    ``first`` (from --iss/--sub/--aud) wins over ``given``, which wins over the defaults.
    """
    defaults = {
        "iat": issued_at,
        "nbf": issued_at - NBF_SKEW,
        "exp": issued_at + round(lifetime),
        "nonce": secrets.token_urlsafe(16),
        "jti": str(uuid.uuid4()),
    }
    merged = {**defaults, **given, **first}
    leading = [name for name in ("iss", "sub", "aud") if name in merged]
    order = [*leading, *given, *defaults]
    return {name: merged[name] for name in dict.fromkeys(order)}


@click.command()
@click.option("--key", "key_file", required=True, metavar="FILE", help="Private key file.")
@click.option("--alg", help="Signature algorithm (default: the key's own, or its family's).")
@click.option("--claim", "claim_args", multiple=True, metavar="K=V|K:=JSON", help="A claim.")
@click.option("--claims-json", metavar="FILE", help="A JSON object of claims ('-': stdin).")
@click.option("--lifetime", default="5m", show_default=True, help="exp − iat (300, 90s, 5m).")
@click.option("--aud", "audience", multiple=True, help="Audience (repeat for a list).")
@click.option("--iss", "issuer", help="Issuer.")
@click.option("--sub", "subject", help="Subject.")
@click.option("--typ", default="jot+jwt", show_default=True, help="The typ header ('' for none).")
@_password_option
def sign(
    key_file: str,
    alg: str | None,
    claim_args: tuple[str, ...],
    claims_json: str | None,
    lifetime: str,
    audience: tuple[str, ...],
    issuer: str | None,
    subject: str | None,
    typ: str,
    password_env: str | None,
) -> None:
    """Mint a signed token: iat = now, nbf = iat − 5 min, exp = iat + lifetime, nonce, jti."""
    seconds = parse_duration(lifetime, option="--lifetime")
    if seconds <= 0:
        raise CommandError("--lifetime must be positive")
    if claims_json == "-" and key_file == "-":
        raise CommandError("--key and --claims-json cannot both read stdin")
    with friendly_errors():
        key = load_private_key(key_file, password_env=password_env)
        given = _claims_from_file(claims_json) if claims_json else {}
        given.update(_parse_claim(text) for text in claim_args)
        first: dict[str, Any] = {}
        for name, value in (("iss", issuer), ("sub", subject)):
            if value is not None:
                first[name] = value
        if audience:
            first["aud"] = audience[0] if len(audience) == 1 else list(audience)
        claims = build_claims(given, issued_at=int(now()), lifetime=seconds, first=first)
        click.echo(jwt.encode(claims, key, alg=alg, typ=typ or None))
