"""Shared helpers of the JWE tests: vectors, fixed randomness, keys made once."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jot.jose import jwe, jwk
from jot.jose._jwe.keys import Entropy
from jot.jose._keyio import from_jwk
from jot.jose.hazmat import RSA1_5
from jot.jose.jwk import Key

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
COOKBOOK = VECTORS / "jose-cookbook"

#: Every key management algorithm of jot (RSA1_5 only through hazmat), with its key kind.
ALG_KEYS: dict[str, tuple[str, int | None]] = {
    "RSA-OAEP": ("RSA", 2048),
    "RSA-OAEP-256": ("RSA", 2048),
    "RSA-OAEP-384": ("RSA", 2048),
    "RSA-OAEP-512": ("RSA", 2048),
    "A128KW": ("oct", 128),
    "A192KW": ("oct", 192),
    "A256KW": ("oct", 256),
    "A128GCMKW": ("oct", 128),
    "A192GCMKW": ("oct", 192),
    "A256GCMKW": ("oct", 256),
    "ECDH-ES": ("P-256", None),
    "ECDH-ES+A128KW": ("P-384", None),
    "ECDH-ES+A192KW": ("P-521", None),
    "ECDH-ES+A256KW": ("X25519", None),
    "PBES2-HS256+A128KW": ("password", None),
    "PBES2-HS384+A192KW": ("password", None),
    "PBES2-HS512+A256KW": ("password", None),
    "dir": ("dir", None),
}
ENCS = ("A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128GCM", "A192GCM", "A256GCM")
ENC_SIZES = {"A128CBC-HS256": 256, "A192CBC-HS384": 384, "A256CBC-HS512": 512,
             "A128GCM": 128, "A192GCM": 192, "A256GCM": 256}  # fmt: skip
#: PBES2 in tests uses the smallest iteration count jot accepts, to stay fast.
SMALL_P2C = 1000


def load(path: Path | str) -> Any:
    return json.loads((VECTORS / path).read_text(encoding="utf-8"))


@functools.cache
def _material(kind: str, size: int | None) -> Key:
    # RSA generation is slow: one key per kind for the whole session.
    return jwk.generate(kind, size=size)


def key_for(alg: str, enc: str = "A256GCM") -> Key:
    """A private key for ``alg`` (for ``dir``: of the size ``enc`` needs), bound to nothing."""
    kind, size = ALG_KEYS[alg]
    if kind == "password":
        return jwe.password_key(b"correct horse battery staple", alg=alg)
    if kind == "dir":
        return _material("oct", ENC_SIZES[enc])
    return _material(kind, size)


def recipient_key(alg: str, enc: str = "A256GCM") -> Key:
    """The key a sender encrypts to: the public half when there is one."""
    key = key_for(alg, enc)
    return key.public() if key.kty in ("RSA", "EC", "OKP") else key


def headers_for(alg: str) -> dict[str, Any]:
    return {"p2c": SMALL_P2C} if alg.startswith("PBES2") else {}


def alg_object(name: str) -> Any:
    return RSA1_5 if name == "RSA1_5" else name


class FixedEntropy(Entropy):
    """Randomness from a vector, so that encryption reproduces it byte for byte."""

    def __init__(self, values: dict[str, bytes], ephemeral: Any = None) -> None:
        self.values = values
        self._ephemeral = ephemeral

    def random(self, size: int, purpose: str) -> bytes:
        value = self.values[purpose]
        assert len(value) == size, purpose
        return value

    def ephemeral(self, recipient: Key) -> Any:
        assert self._ephemeral is not None
        return self._ephemeral


def cookbook_key(data: dict[str, Any], alg: str) -> Key:
    return from_jwk(data)


__all__ = [
    "ALG_KEYS",
    "COOKBOOK",
    "ENCS",
    "SMALL_P2C",
    "VECTORS",
    "FixedEntropy",
    "alg_object",
    "cookbook_key",
    "headers_for",
    "key_for",
    "load",
    "recipient_key",
]
