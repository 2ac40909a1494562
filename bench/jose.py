"""jot.jose against its peers: µs per JWT sign and verify-with-claims, and the ratio to a floor.

Run ``make bench`` (or ``.venv/bin/python bench/jose.py``); ``--quick`` for a smoke run.

For each algorithm (HS256, RS256, PS256, ES256, EdDSA) every library signs the same claims and
verifies the same token, checking the signature and ``exp``, ``nbf``, ``iss`` and ``aud``. The
*floor* is the least work any JWT library must do: the raw `cryptography` (or ``hmac``) call
plus the base64url and JSON work, with the key loaded and the protected header already parsed
(verify) or encoded (sign); it checks no claim. Keys are loaded once, outside the timing, into
each library's own key objects.

To add rows (e.g. JWE), write a function ``(Fixture) -> list[Case]`` and append it to
:data:`CASE_BUILDERS`; a new ``(operation, alg)`` group needs a ``floor`` case too.
"""

from __future__ import annotations

import argparse
import binascii
import datetime
import hmac
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from _hashlib import hmac_digest
from collections.abc import Callable
from dataclasses import dataclass, replace
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from _harness import (
    CLOCKS,
    FLOOR,
    Case,
    Target,
    check_targets,
    measure,
    render_table,
    render_targets,
    use_clock,
)
from _jwe_cases import JWE_TARGETS, jwe_cases
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from jot.jose import jwk as jot_jwk
from jot.jose import jwt as jot_jwt

# This file is named jose.py, so with its folder first on sys.path `import jose` would find it
# instead of python-jose. _harness is imported by now; drop the folder.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

ALGS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")
ISSUER = "https://auth.example.com"
AUDIENCE = "web"
SIGN, VERIFY = "sign", "verify"
DIRECT_FLOOR = "floor-direct"

#: The issue's targets (issue 2, section 5). "than" another library: ratio < 1 means faster.
TARGETS = [
    *(Target("jot", VERIFY, alg, 1.10) for alg in ("RS256", "PS256", "ES256", "EdDSA")),
    Target("jot", VERIFY, "HS256", 1.50),
    Target("jot", VERIFY, "HS256", 1 / 2.5, than="PyJWT"),
    *(Target("jot", SIGN, alg, 1.10) for alg in ALGS),
    *JWE_TARGETS,  # Issue 3: JWE encrypt and decrypt (see bench/_jwe_cases.py).
]


@dataclass
class Fixture:
    """Everything the cases share: keys (as jot keys), claims and one token per algorithm."""

    keys: dict[str, jot_jwk.Key]
    claims: dict[str, Any]
    tokens: dict[str, str]


def _claims() -> dict[str, Any]:
    """A token shaped like jot's (DESIGN.md, "The token profile"), valid for an hour."""
    iat = int(time.time())
    return {
        "iss": ISSUER,
        "sub": "u_8f14e45fceea167a",
        "aud": AUDIENCE,
        "name": "alice@example.com",
        "groups": ["developers", "oncall", "readers"],
        "iat": iat,
        "nbf": iat - 300,
        "exp": iat + 3600,
        "nonce": "Qm9kPh2v1r8wYx3KTz0aZg",
        "jti": "01JD6Q4Z8N5V2M7K3C9XH1RTWE",
    }


def make_fixture() -> Fixture:
    keys = {
        "HS256": jot_jwk.generate("oct", size=256),
        "RS256": jot_jwk.generate("RSA", size=2048),
        "PS256": jot_jwk.generate("RSA", size=2048),
        "ES256": jot_jwk.generate("P-256"),
        "EdDSA": jot_jwk.generate("Ed25519"),
    }
    claims = _claims()
    tokens = {alg: _floor_signer(alg, keys[alg], claims)() for alg in ALGS}
    return Fixture(keys, claims, tokens)


# -- the floor --------------------------------------------------------------------------

_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_FROM_STANDARD = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_PKCS1, _SHA256 = padding.PKCS1v15(), hashes.SHA256()
_PSS = padding.PSS(padding.MGF1(_SHA256), 32)
_ECDSA = ec.ECDSA(_SHA256)


def _b64e(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_FROM_STANDARD)


def _b64d(text: str) -> bytes:
    data = text.encode("ascii")
    return binascii.a2b_base64(data.translate(_TO_STANDARD) + _PADDING[len(data) & 3])


def _raw_signer(alg: str, key: Any, hmac_digest: Any = hmac.digest) -> Callable[[bytes], bytes]:
    if alg == "HS256":
        return lambda data: hmac_digest(key, data, "sha256")
    if alg == "RS256":
        return lambda data: key.sign(data, _PKCS1, _SHA256)
    if alg == "PS256":
        return lambda data: key.sign(data, _PSS, _SHA256)
    if alg == "ES256":

        def sign_es256(data: bytes) -> bytes:
            r, s = decode_dss_signature(key.sign(data, _ECDSA))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        return sign_es256
    return key.sign  # type: ignore[no-any-return]


def _raw_verifier(
    alg: str, key: Any, hmac_digest: Any = hmac.digest
) -> Callable[[bytes, bytes], object]:
    if alg == "HS256":

        def verify_hs256(data: bytes, signature: bytes) -> None:
            if not hmac.compare_digest(hmac_digest(key, data, "sha256"), signature):
                raise ValueError("bad signature")

        return verify_hs256
    if alg == "RS256":
        return lambda data, signature: key.verify(signature, data, _PKCS1, _SHA256)
    if alg == "PS256":
        return lambda data, signature: key.verify(signature, data, _PSS, _SHA256)
    if alg == "ES256":

        def verify_es256(data: bytes, signature: bytes) -> None:
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), data, _ECDSA)

        return verify_es256
    return lambda data, signature: key.verify(signature, data)


def _header(alg: str, key: jot_jwk.Key) -> dict[str, Any]:
    return {"alg": alg, "kid": key.kid, "typ": "JWT"}


@dataclass(frozen=True)
class Primitives:
    """The JSON and HMAC calls a floor uses."""

    encode: Callable[[Any], str]
    loads: Callable[[str], Any]
    hmac_digest: Any


#: The public calls: json's encoder and loads, hmac.digest.
PUBLIC = Primitives(_ENCODER.encode, json.loads, hmac.digest)
# The calls underneath them, as jot makes them: json's C encoder built once and its C scanner
# called directly, and OpenSSL's one-shot HMAC without hmac.digest's Python wrapper.
_C_ENCODER = c_make_encoder(None, None, encode_basestring, None, ":", ",", False, False, True)
_SCANNER = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
DIRECT = Primitives(
    lambda value: "".join(_C_ENCODER(value, 0)), lambda text: _SCANNER(text, 0)[0], hmac_digest
)


def _floor_signer(
    alg: str, key: jot_jwk.Key, claims: dict[str, Any], calls: Primitives = PUBLIC
) -> Callable[[], str]:
    raw_sign = _raw_signer(alg, key.crypto_key, calls.hmac_digest)
    prefix = _b64e(_ENCODER.encode(_header(alg, key)).encode()) + b"."
    encode = calls.encode

    def sign() -> str:
        signing_input = prefix + _b64e(encode(claims).encode())
        return (signing_input + b"." + _b64e(raw_sign(signing_input))).decode("ascii")

    return sign


def _floor_verifier(
    alg: str, key: jot_jwk.Key, token: str, calls: Primitives = PUBLIC
) -> Callable[[], object]:
    verifier = key.public().verifier if alg != "HS256" else key.crypto_key
    raw_verify = _raw_verifier(alg, verifier, calls.hmac_digest)
    segment = token.partition(".")[0]
    headers = {segment: json.loads(_b64d(segment))}  # As parsed once and cached.
    loads = calls.loads

    def verify() -> object:
        signing_input, _, signature = token.rpartition(".")
        encoded_header, _, payload = signing_input.partition(".")
        headers[encoded_header]
        raw_verify(signing_input.encode("ascii"), _b64d(signature))
        return loads(_b64d(payload).decode("utf-8"))

    return verify


def floor_cases(f: Fixture) -> list[Case]:
    """The floor, with the public json and hmac calls."""
    cases = []
    for alg in ALGS:
        key = f.keys[alg]
        cases.append(Case(FLOOR, SIGN, alg, _floor_signer(alg, key, f.claims)))
        cases.append(Case(FLOOR, VERIFY, alg, _floor_verifier(alg, key, f.tokens[alg])))
    return cases


def direct_floor_cases(f: Fixture) -> list[Case]:
    """The floor again, with the calls underneath json and hmac that jot itself makes."""
    cases = []
    for alg in ALGS:
        key = f.keys[alg]
        sign = _floor_signer(alg, key, f.claims, DIRECT)
        verify = _floor_verifier(alg, key, f.tokens[alg], DIRECT)
        cases.append(Case(DIRECT_FLOOR, SIGN, alg, sign))
        cases.append(Case(DIRECT_FLOOR, VERIFY, alg, verify))
    return cases


# -- the libraries ----------------------------------------------------------------------


def jot_cases(f: Fixture) -> list[Case]:
    cases = []
    for alg in ALGS:
        key, token, claims = f.keys[alg], f.tokens[alg], f.claims
        public = key if alg == "HS256" else key.public()
        algorithms = [alg]
        cases.append(Case("jot", SIGN, alg, lambda c=claims, k=key: jot_jwt.encode(c, k)))
        cases.append(
            Case(
                "jot",
                VERIFY,
                alg,
                lambda t=token, k=public, a=algorithms: jot_jwt.decode(
                    t, k, algorithms=a, issuer=ISSUER, audience=AUDIENCE
                ),
            )
        )
    return cases


def pyjwt_cases(f: Fixture) -> list[Case]:
    import jwt as pyjwt

    options: Any = {"require": ["exp", "nbf", "iss", "aud"]}
    cases = []
    for alg in ALGS:
        key, token, claims = f.keys[alg], f.tokens[alg], f.claims
        private = key.crypto_key
        public = private if alg == "HS256" else key.public().crypto_key
        headers = {"kid": key.kid}
        cases.append(
            Case(
                "PyJWT",
                SIGN,
                alg,
                lambda c=claims, k=private, a=alg, h=headers: pyjwt.encode(
                    c, k, algorithm=a, headers=h
                ),
            )
        )
        cases.append(
            Case(
                "PyJWT",
                VERIFY,
                alg,
                lambda t=token, k=public, a=[alg]: pyjwt.decode(
                    t, k, algorithms=a, audience=AUDIENCE, issuer=ISSUER, options=options
                ),
            )
        )
    return cases


def joserfc_cases(f: Fixture) -> list[Case]:
    from joserfc import jwk as rfc_jwk
    from joserfc import jwt as rfc_jwt

    registry = rfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
        nbf={"essential": True},
    )
    cases = []
    for alg in ALGS:
        key, token, claims = f.keys[alg], f.tokens[alg], f.claims
        private = rfc_jwk.import_key(key.to_dict(private=True))
        public = private if alg == "HS256" else rfc_jwk.import_key(key.public().to_dict())
        header = {"alg": alg, "kid": key.kid}

        def verify(t: str = token, k: Any = public, a: list[str] = [alg]) -> object:  # noqa: B006
            decoded = rfc_jwt.decode(t, k, algorithms=a)
            registry.validate(decoded.claims)
            return decoded.claims

        cases.append(
            Case(
                "joserfc",
                SIGN,
                alg,
                lambda c=claims, k=private, h=header, a=[alg]: rfc_jwt.encode(
                    h, c, k, algorithms=a
                ),
            )
        )
        cases.append(Case("joserfc", VERIFY, alg, verify))
    return cases


def jwcrypto_cases(f: Fixture) -> list[Case]:
    from jwcrypto import jwk as jc_jwk
    from jwcrypto import jwt as jc_jwt

    check = {"iss": ISSUER, "aud": AUDIENCE, "exp": None, "nbf": None}
    cases = []
    for alg in ALGS:
        key, token, claims = f.keys[alg], f.tokens[alg], f.claims
        private = jc_jwk.JWK(**key.to_dict(private=True))
        public = private if alg == "HS256" else jc_jwk.JWK(**key.public().to_dict())
        header = _header(alg, key)

        def sign(c: dict[str, Any] = claims, k: Any = private, h: Any = header) -> str:
            signed = jc_jwt.JWT(header=h, claims=c)
            signed.make_signed_token(k)
            return str(signed.serialize())

        def verify(t: str = token, k: Any = public, a: list[str] = [alg]) -> object:  # noqa: B006
            verified = jc_jwt.JWT(jwt=t, key=k, algs=a, check_claims=check)
            return json.loads(verified.claims)

        cases.append(Case("jwcrypto", SIGN, alg, sign))
        cases.append(Case("jwcrypto", VERIFY, alg, verify))
    return cases


def python_jose_cases(f: Fixture) -> list[Case]:
    from jose import jwk as pj_jwk
    from jose import jwt as pj_jwt

    cases = []
    for alg in ("HS256", "RS256", "ES256"):  # python-jose has no PS256 and no EdDSA.
        key, token, claims = f.keys[alg], f.tokens[alg], f.claims
        private = pj_jwk.construct(key.crypto_key, alg)
        public = private if alg == "HS256" else pj_jwk.construct(key.public().crypto_key, alg)
        headers = {"kid": key.kid}
        cases.append(
            Case(
                "python-jose",
                SIGN,
                alg,
                lambda c=claims, k=private, a=alg, h=headers: pj_jwt.encode(
                    c, k, algorithm=a, headers=h
                ),
            )
        )
        cases.append(
            Case(
                "python-jose",
                VERIFY,
                alg,
                lambda t=token, k=public, a=[alg]: pj_jwt.decode(
                    t, k, algorithms=a, audience=AUDIENCE, issuer=ISSUER
                ),
            )
        )
    return cases


#: Each builder adds the cases of one library; append yours to add rows or columns.
CASE_BUILDERS: list[Callable[[Fixture], list[Case]]] = [
    floor_cases,
    direct_floor_cases,
    jot_cases,
    pyjwt_cases,
    joserfc_cases,
    jwcrypto_cases,
    python_jose_cases,
    # JWE rows: the plaintext is a signed JWT, as in a nested JWT.
    lambda f: jwe_cases(f.tokens["EdDSA"].encode("ascii")),
]

_DISTRIBUTIONS = {
    "cryptography": "cryptography",
    "PyJWT": "pyjwt",
    "joserfc": "joserfc",
    "jwcrypto": "jwcrypto",
    "python-jose": "python-jose",
}


# -- running ----------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return platform.processor() or "unknown CPU"
    for line in lscpu.stdout.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def environment() -> str:
    """One paragraph: when, where and with which versions the table was measured."""
    versions = ", ".join(
        f"{name} {importlib.metadata.version(dist)}" for name, dist in _DISTRIBUTIONS.items()
    )
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = os.cpu_count()
    return (
        f"{now}; {_cpu_model()}, {cores} cores; Python {platform.python_version()} "
        f"({platform.python_implementation()}); {versions}."
    )


def _selected(cases: list[Case], libraries: set[str] | None, algs: set[str] | None) -> list[Case]:
    return [
        case
        for case in cases
        if (libraries is None or case.library in (*libraries, FLOOR, DIRECT_FLOOR))
        and (algs is None or case.alg in algs)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny batches, 2 rounds (smoke)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=7, help="batches per case and round")
    parser.add_argument("--batch-ms", type=float, default=1.0, help="time per batch")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument("--libraries", help="comma-separated, e.g. jot,PyJWT (floor is kept)")
    parser.add_argument("--algs", help="comma-separated, e.g. HS256,ES256")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    rounds, repeats, batch = (
        (2, 1, 0.001) if args.quick else (args.rounds, args.repeats, args.batch_ms / 1000)
    )
    libraries = set(args.libraries.split(",")) if args.libraries else None
    algs = set(args.algs.split(",")) if args.algs else None

    use_clock(args.clock)
    load_before = os.getloadavg()[0]
    fixture = make_fixture()
    with warnings.catch_warnings():
        # Peers may warn about deprecated algorithm names; the numbers are what matters here.
        warnings.simplefilter("ignore")
        cases = _selected(
            [case for build in CASE_BUILDERS for case in build(fixture)], libraries, algs
        )
        results = measure(
            cases,
            rounds=rounds,
            repeats=repeats,
            batch_seconds=batch,
            progress=lambda text: print(text, file=sys.stderr, flush=True),
        )
    load = os.getloadavg()[0]
    print(
        f"µs per operation (ratio to the floor of the same row): median of {rounds} rounds,"
        f" each the fastest of {repeats} interleaved batches; {args.clock} clock."
    )
    print(f"{environment()} Load average: {load_before:.1f} before, {load:.1f} after.")
    print()
    print(render_table(results))
    print()
    selected = [t for t in TARGETS if algs is None or t.alg in algs]
    checked = check_targets(results, selected)
    print("Targets:")
    print(render_targets(checked))
    print()
    print(f"The JWS targets against {DIRECT_FLOOR} (for information):")
    jws_targets = [t for t in selected if t.than == FLOOR and t.operation in (SIGN, VERIFY)]
    info = [replace(t, than=DIRECT_FLOOR) for t in jws_targets]
    print(render_targets(check_targets(results, info)))
    return 1 if args.check and not all(ok for _, _, ok in checked) else 0


if __name__ == "__main__":
    sys.exit(main())
