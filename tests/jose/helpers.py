"""Shared test helpers: the vector loader and one cached key per algorithm."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from jot.jose import jwk
from jot.jose.jwk import Key

__all__ = ["ALGORITHMS", "VECTORS", "load_vectors", "private_key", "vector"]

VECTORS = Path(__file__).resolve().parent.parent / "vectors"

#: Every signature algorithm of jot, with the kind of key it needs.
KEY_KINDS = {
    "HS256": ("oct", 256),
    "HS384": ("oct", 384),
    "HS512": ("oct", 512),
    "RS256": ("RSA", 2048),
    "RS384": ("RSA", 2048),
    "RS512": ("RSA", 2048),
    "PS256": ("RSA", 2048),
    "PS384": ("RSA", 2048),
    "PS512": ("RSA", 2048),
    "ES256": ("P-256", None),
    "ES384": ("P-384", None),
    "ES512": ("P-521", None),
    "ES256K": ("secp256k1", None),
    "EdDSA": ("Ed25519", None),
    "Ed25519": ("Ed25519", None),
    "Ed448": ("Ed448", None),
}
ALGORITHMS = tuple(KEY_KINDS)


@functools.cache
def _material(kind: str, size: int | None) -> Key:
    # RSA generation is slow: one key per kind for the whole session, shared by every test.
    return jwk.generate(kind, size=size)


@functools.cache
def private_key(alg: str, *, bound: bool = True) -> Key:
    """A private key for ``alg``; ``bound=True`` binds a copy of it to ``alg``.

    Cached: tests must not change the key they get (make a new one with ``import_key``).
    """
    base = _material(*KEY_KINDS[alg])
    if not bound:
        return base
    if isinstance(base, jwk.OctKey):
        return jwk.OctKey(base.crypto_key, alg=alg, kid=f"{alg}-key")
    # From the `cryptography` object: importing an RSA JWK re-checks the key (~0.3 s).
    return jwk.import_key(base.crypto_key, alg=alg, kid=f"{alg}-key")


def vector(relative: str) -> dict[str, Any]:
    """One vector file, parsed."""
    data: dict[str, Any] = json.loads((VECTORS / relative).read_text(encoding="utf-8"))
    return data


def load_vectors(pattern: str) -> list[Any]:
    """Every vector file matching ``pattern`` as ``pytest.param(data, id=<file stem>)``."""
    paths = sorted(VECTORS.glob(pattern))
    if not paths:
        raise FileNotFoundError(f"no test vectors match {pattern}")
    return [pytest.param(json.loads(p.read_text(encoding="utf-8")), id=p.stem) for p in paths]
