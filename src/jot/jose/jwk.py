"""JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037), thumbprints (RFC 7638, RFC 9278).

A :class:`Key` is parsed once into a `cryptography` object and is immutable afterwards. It may
be bound to one algorithm (``alg``) and one use (``use``/``key_ops``); a bound key is never used
for anything else. Private parameters never appear in ``repr``.

The key types live in :mod:`jot.jose._keys` and the parsing of JWK, PEM, DER and OpenSSH
texts in :mod:`jot.jose._keyio`; this module is their public face.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import FrozenInstanceError
from typing import Any, NoReturn

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from jot.jose import _json, _keyio
from jot.jose._jwk_tables import CURVES
from jot.jose._keys import (
    MIN_RSA_BITS,
    ECKey,
    Key,
    OctKey,
    OKPKey,
    RSAKey,
    from_crypto_key,
    rebound,
)
from jot.jose.errors import InvalidKeyError, JoseError, KeyNotFoundError, UsageError

__all__ = [
    "MIN_RSA_BITS",
    "ECKey",
    "Key",
    "KeySet",
    "OKPKey",
    "OctKey",
    "RSAKey",
    "generate",
    "import_key",
]

# -- construction -----------------------------------------------------------------------

_GENERATORS = {
    "Ed25519": ed25519.Ed25519PrivateKey.generate,
    "Ed448": ed448.Ed448PrivateKey.generate,
    "X25519": x25519.X25519PrivateKey.generate,
    "X448": x448.X448PrivateKey.generate,
}


def generate(
    kind: str,
    *,
    size: int | None = None,
    alg: str | None = None,
    use: str | None = None,
    kid: str | None = None,
) -> Key:
    """Generate a new private key.

    :param kind: ``"oct"``, ``"RSA"``, a curve (``"P-256"``, ``"P-384"``, ``"P-521"``,
        ``"secp256k1"``) or an OKP curve (``"Ed25519"``, ``"Ed448"``, ``"X25519"``, ``"X448"``).
    :param size: bits, for ``oct`` (default 256) and ``RSA`` (default 2048, at least 2048).
    :param kid: defaults to the RFC 7638 thumbprint.
    """
    crypto: Any
    if kind == "oct":
        bits = 256 if size is None else size
        if bits % 8 or bits < 128:
            raise UsageError("an oct key needs a whole number of bytes, at least 128 bits")
        crypto = os.urandom(bits // 8)
    elif kind == "RSA":
        bits = 2048 if size is None else size
        if bits < MIN_RSA_BITS:
            raise UsageError(f"RSA keys must have at least {MIN_RSA_BITS} bits")
        crypto = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    elif kind in CURVES:
        crypto = ec.generate_private_key(CURVES[kind])
    elif kind in _GENERATORS:
        crypto = _GENERATORS[kind]()
    else:
        raise UsageError(f"unknown key type {kind!r}")
    key = from_crypto_key(crypto, alg=alg, use=use, kid=kid)
    return key if kid is not None else rebound(key, kid=key.thumbprint())


def import_key(
    data: Any,
    *,
    password: bytes | None = None,
    alg: str | None = None,
    use: str | None = None,
    kid: str | None = None,
) -> Key:
    """Load a key from a JWK (dict or JSON), PEM, DER, an OpenSSH key or a `cryptography` key.

    Raw bytes are never taken as an HMAC secret here: use :class:`OctKey` or a JWK for that.
    """
    return _keyio.import_key(data, password=password, alg=alg, use=use, kid=kid)


class KeySet:
    """A JSON Web Key Set: keys looked up by ``kid``.

    Parsing keeps the keys it cannot use in :attr:`rejected` (index and reason) instead of
    dropping them silently. Two rules keep a set unambiguous: a ``kid`` that more than one key
    carries selects no key at all (two verifiers could otherwise pick different ones), and a
    set may not mix secret (``oct``) keys with public-key ones unless ``allow_mixed=True``
    (a published key set that holds a secret is the start of an algorithm-confusion attack).
    """

    keys: tuple[Key, ...]
    #: The entries :meth:`from_dict` could not use: (index, reason).
    rejected: tuple[tuple[int, str], ...]
    _by_kid: dict[str, Key | None]
    __slots__ = ("_by_kid", "keys", "rejected")

    def __init__(
        self,
        keys: Iterable[Key] = (),
        *,
        rejected: Iterable[tuple[int, str]] = (),
        allow_mixed: bool = False,
    ) -> None:
        # Immutable, as its keys are: a verifier's cached checks of a key set stay true.
        _init = object.__setattr__
        _init(self, "keys", tuple(keys))
        _init(self, "rejected", tuple(rejected))
        if not allow_mixed and len({key.kty == "oct" for key in self.keys}) > 1:
            raise InvalidKeyError(
                "the key set mixes secret (oct) and public keys; pass allow_mixed=True to allow it"
            )
        by_kid: dict[str, Key | None] = {}
        for key in self.keys:
            if key.kid is not None:
                # None marks a shared kid (RFC 7517 §4.5 allows sharing; jot refuses to choose).
                by_kid[key.kid] = None if key.kid in by_kid else key
        _init(self, "_by_kid", by_kid)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise FrozenInstanceError(f"a jot.jose key set cannot be changed (not {name!r})")

    def __delattr__(self, name: str) -> NoReturn:
        self.__setattr__(name, None)

    @classmethod
    def from_dict(cls, jwks: Mapping[str, Any], *, allow_mixed: bool = False) -> KeySet:
        """Parse a JWKS object; keys that cannot be used are listed in ``rejected``."""
        entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(entries, list):
            raise InvalidKeyError("a JWKS needs a 'keys' list")
        keys: list[Key] = []
        rejected: list[tuple[int, str]] = []
        for index, entry in enumerate(entries):
            try:
                keys.append(_keyio.from_jwk(entry))
            except JoseError as exc:
                rejected.append((index, exc.description))
        return cls(keys, rejected=rejected, allow_mixed=allow_mixed)

    @classmethod
    def from_json(cls, text: str | bytes, *, allow_mixed: bool = False) -> KeySet:
        """Parse JWKS JSON text."""
        try:
            return cls.from_dict(_json.loads_object(text, "JWKS"), allow_mixed=allow_mixed)
        except InvalidKeyError:
            raise
        except JoseError as exc:
            raise InvalidKeyError(exc.description) from None

    def get(self, kid: str) -> Key:
        """The key with this ``kid``; :class:`KeyNotFoundError` if there is none."""
        key = self._by_kid.get(kid)
        if key is None:
            shared = kid in self._by_kid
            raise KeyNotFoundError(
                "more than one key has the token's kid" if shared else "no key with the token's kid"
            )
        return key

    def find(self, kid: str | None) -> Key | None:
        """The key with this ``kid``, or ``None``."""
        return self._by_kid.get(kid) if kid is not None else None

    def to_dict(self, private: bool = False) -> dict[str, Any]:
        """The JWKS object; public keys only unless ``private=True``."""
        return {
            "keys": [k.to_dict(private) if private else k.public().to_dict() for k in self.keys]
        }

    def __iter__(self) -> Iterator[Key]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, kid: object) -> bool:
        return self._by_kid.get(kid) is not None  # type: ignore[call-overload]

    def __repr__(self) -> str:
        return f"<KeySet kids={[k.kid for k in self.keys]!r}>"
