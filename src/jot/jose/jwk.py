"""JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037), thumbprints (RFC 7638, RFC 9278).

A :class:`Key` is parsed once into a `cryptography` object and is immutable afterwards. It may
be bound to one algorithm (``alg``) and one use (``use``/``key_ops``); a bound key is never used
for anything else. Private parameters never appear in ``repr``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, NoReturn, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from jot.jose import _json
from jot.jose._b64 import b64encode_str
from jot.jose._jwk_tables import (
    CURVE_NAMES,
    CURVES,
    OKP_TYPES,
    PUBLIC_OPS,
    THUMBPRINT_MEMBERS,
    USES,
    check_key_ops,
)
from jot.jose._roca import refuse_roca
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

#: RSA keys below this size are refused unless imported through `jot.jose.hazmat`.
MIN_RSA_BITS = 2048

_RAW = serialization.Encoding.Raw
_K = TypeVar("_K", bound="Key")


def _b64_int(value: int, length: int | None = None) -> str:
    length = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64encode_str(value.to_bytes(length, "big"))


class Key:
    """A JWK: key material plus its binding to an algorithm and a use.

    :param alg: the one algorithm this key may be used with, or ``None`` (then the caller
        must name the algorithm).
    :param use: ``"sig"`` or ``"enc"``.
    :param key_ops: the operations allowed (RFC 7517 §4.3).
    :param kid: the key id.
    """

    kty: ClassVar[str]
    crypto_key: Any
    alg: str | None
    use: str | None
    key_ops: tuple[str, ...] | None
    kid: str | None
    weak_allowed: bool
    #: True if this key holds private (or secret) material.
    is_private: bool
    #: What verifies: the public key object (the secret, for symmetric keys), made once.
    verifier: Any
    _public_dict: dict[str, Any] | None
    _curve: str | None
    __slots__ = (
        "_curve",
        "_public_dict",
        "alg",
        "crypto_key",
        "is_private",
        "key_ops",
        "kid",
        "use",
        "verifier",
        "weak_allowed",
    )

    def __init__(
        self,
        crypto_key: Any,
        *,
        alg: str | None = None,
        use: str | None = None,
        key_ops: Iterable[str] | None = None,
        kid: str | None = None,
        weak_allowed: bool = False,
    ) -> None:
        if alg is not None and not isinstance(alg, str):
            raise InvalidKeyError("JWK member 'alg' is not a string")
        if kid is not None and not isinstance(kid, str):
            raise InvalidKeyError("JWK member 'kid' is not a string")
        if use is not None and (not isinstance(use, str) or use not in USES):
            raise InvalidKeyError("JWK member 'use' is not 'sig' or 'enc'")
        ops = None if key_ops is None else check_key_ops(key_ops)
        # Set once here, never again (see __setattr__).
        _init = object.__setattr__
        _init(self, "crypto_key", crypto_key)
        _init(self, "alg", alg)
        _init(self, "use", use)
        _init(self, "key_ops", ops)
        _init(self, "kid", kid)
        _init(self, "weak_allowed", weak_allowed)
        _init(self, "_public_dict", None)
        _init(self, "_curve", None)  # Its crv, looked up once per key, not per use.
        # Once: `cryptography`'s key classes are ABCs, slow to test on every use.
        _init(self, "is_private", self._holds_private())
        _init(self, "verifier", self._public_crypto_key())

    # Every check a usual path caches (the key's binding against an algorithm, its encoded
    # header) stays true only while the key stays the same: a key cannot be changed, and a
    # new binding is a new key (import_key(key, kid=...)).
    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise FrozenInstanceError(
            f"a jot.jose key cannot be changed (not {name!r}): make a new one with "
            "jwk.import_key(key, alg=..., use=..., kid=...)"
        )

    def __delattr__(self, name: str) -> NoReturn:
        self.__setattr__(name, None)

    # -- what subclasses provide ---------------------------------------------------------

    def _holds_private(self) -> bool:
        """True if this key holds private (or secret) material."""
        raise NotImplementedError

    @property
    def curve(self) -> str | None:
        """The ``crv`` of EC and OKP keys, else ``None``."""
        return None

    def _public_params(self) -> dict[str, Any]:
        raise NotImplementedError

    def _private_params(self) -> dict[str, Any]:
        raise NotImplementedError

    def _public_crypto_key(self) -> Any:
        raise NotImplementedError

    # -- shared behaviour ---------------------------------------------------------------

    def public(self) -> Key:
        """The public half of this key, keeping its ``alg``, ``use`` and ``kid``."""
        if not self.is_private:
            return self
        ops = None
        if self.key_ops is not None:
            ops = [op for op in self.key_ops if op in PUBLIC_OPS]
        return type(self)(
            self._public_crypto_key(), alg=self.alg, use=self.use, key_ops=ops, kid=self.kid
        )

    def to_dict(self, private: bool = False) -> dict[str, Any]:
        """This key as a JWK; ``private=True`` adds the private parameters."""
        public = self._public_dict
        if public is None:
            public = {"kty": self.kty, **self._public_params()}
            for name in ("alg", "use", "key_ops", "kid"):
                value = getattr(self, name)
                if value is not None:
                    public[name] = list(value) if name == "key_ops" else value
            object.__setattr__(self, "_public_dict", public)
        result = dict(public)
        if private:
            if not self.is_private:
                raise UsageError("this is a public key; it has no private parameters")
            result.update(self._private_params())
        return result

    def to_json(self, private: bool = False) -> str:
        """This key as JWK JSON text."""
        return _json.dumps(self.to_dict(private)).decode("utf-8")

    def thumbprint(self, hash_name: str = "sha256") -> str:
        """The RFC 7638 thumbprint, base64url: a stable id for the public key."""
        members = {"kty": self.kty, **self._public_params()}
        required = {name: members[name] for name in sorted(THUMBPRINT_MEMBERS[self.kty])}
        return b64encode_str(hashlib.new(hash_name, _json.dumps(required)).digest())

    def thumbprint_uri(self, hash_name: str = "sha256") -> str:
        """The RFC 9278 thumbprint URI."""
        name = {"sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512"}.get(hash_name)
        if name is None:
            raise UsageError(f"no RFC 9278 name for hash {hash_name!r}")
        return f"urn:ietf:params:oauth:jwk-thumbprint:{name}:{self.thumbprint(hash_name)}"

    def to_pem(self, private: bool = False, password: bytes | None = None) -> bytes:
        """PKCS #8 PEM for a private key, SubjectPublicKeyInfo PEM for a public one."""
        return self._serialize(serialization.Encoding.PEM, private, password)

    def to_der(self, private: bool = False, password: bytes | None = None) -> bytes:
        """As :meth:`to_pem`, in DER."""
        return self._serialize(serialization.Encoding.DER, private, password)

    def _serialize(
        self, encoding: serialization.Encoding, private: bool, pw: bytes | None
    ) -> bytes:
        if private:
            if not self.is_private:
                raise UsageError("this is a public key; it has no private part to export")
            algorithm: serialization.KeySerializationEncryption = (
                serialization.BestAvailableEncryption(pw) if pw else serialization.NoEncryption()
            )
            return bytes(
                self.crypto_key.private_bytes(
                    encoding, serialization.PrivateFormat.PKCS8, algorithm
                )
            )
        public = self._public_crypto_key()
        return bytes(public.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo))

    def allows(self, operation: str) -> bool:
        """Whether ``use``/``key_ops`` allow an operation such as ``"verify"``."""
        if self.key_ops is not None and operation not in self.key_ops:
            return False
        if self.use is None:
            return True
        signing = operation in ("sign", "verify")
        return (self.use == "sig") == signing

    def __repr__(self) -> str:
        kind = "private" if self.is_private else "public"
        curve = f", crv={self.curve!r}" if self.curve else ""
        return f"<{type(self).__name__} {kind}{curve} alg={self.alg!r} kid={self.kid!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return NotImplemented
        if self.is_private != other.is_private:
            return False
        return self.to_dict(self.is_private) == other.to_dict(other.is_private)

    __hash__ = None  # type: ignore[assignment]


class OctKey(Key):
    """A symmetric key (``kty`` ``oct``); ``crypto_key`` is the secret bytes."""

    kty = "oct"
    __slots__ = ()

    crypto_key: bytes

    @classmethod
    def from_secret(
        cls, secret: bytes | str, *, alg: str | None = None, kid: str | None = None
    ) -> OctKey:
        """A symmetric key from a shared secret.

        A PEM, DER, OpenSSH or JWK encoding of some key is refused: taking a public key's
        text as an HMAC secret is the classic algorithm-confusion attack.
        """
        from jot.jose._keyio import looks_like_key_encoding

        data = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if not data:
            raise InvalidKeyError("an empty secret is not a key")
        if looks_like_key_encoding(data):
            raise InvalidKeyError("this secret is an encoded key; it cannot be an HMAC secret")
        return cls(data, alg=alg, kid=kid)

    def _holds_private(self) -> bool:
        return True

    def public(self) -> Key:
        raise UsageError("a symmetric key has no public half")

    def _public_crypto_key(self) -> bytes:
        return self.crypto_key

    def _public_params(self) -> dict[str, Any]:
        # A symmetric key has no public part; only its thumbprint uses "k".
        return {}

    def _private_params(self) -> dict[str, Any]:
        return {"k": b64encode_str(self.crypto_key)}

    def thumbprint(self, hash_name: str = "sha256") -> str:
        members = {"k": b64encode_str(self.crypto_key), "kty": "oct"}
        return b64encode_str(hashlib.new(hash_name, _json.dumps(members)).digest())

    def to_dict(self, private: bool = False) -> dict[str, Any]:
        if not private:
            raise UsageError("a symmetric key is secret; export it with private=True")
        return super().to_dict(private=True)

    def _serialize(
        self, encoding: serialization.Encoding, private: bool, pw: bytes | None
    ) -> bytes:
        raise UsageError("a symmetric key has no PEM or DER form")


class RSAKey(Key):
    """An RSA key (``kty`` ``RSA``)."""

    kty = "RSA"
    __slots__ = ()

    crypto_key: rsa.RSAPrivateKey | rsa.RSAPublicKey

    def _holds_private(self) -> bool:
        return isinstance(self.crypto_key, rsa.RSAPrivateKey)

    @property
    def size(self) -> int:
        """The modulus size in bits."""
        return self.crypto_key.key_size

    def _public_crypto_key(self) -> rsa.RSAPublicKey:
        key = self.crypto_key
        return key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key

    def _public_params(self) -> dict[str, Any]:
        numbers = self._public_crypto_key().public_numbers()
        return {"n": _b64_int(numbers.n), "e": _b64_int(numbers.e)}

    def _private_params(self) -> dict[str, Any]:
        assert isinstance(self.crypto_key, rsa.RSAPrivateKey)
        n = self.crypto_key.private_numbers()
        return {
            "d": _b64_int(n.d),
            "p": _b64_int(n.p),
            "q": _b64_int(n.q),
            "dp": _b64_int(n.dmp1),
            "dq": _b64_int(n.dmq1),
            "qi": _b64_int(n.iqmp),
        }


class ECKey(Key):
    """An elliptic-curve key (``kty`` ``EC``) on P-256, P-384, P-521 or secp256k1."""

    kty = "EC"
    __slots__ = ()

    crypto_key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey

    def _holds_private(self) -> bool:
        return isinstance(self.crypto_key, ec.EllipticCurvePrivateKey)

    @property
    def curve(self) -> str:
        name = self._curve
        if name is None:
            name = CURVE_NAMES[self.crypto_key.curve.name]
            object.__setattr__(self, "_curve", name)
        return name

    @property
    def coordinate_size(self) -> int:
        """Bytes in one coordinate (and in each half of an ECDSA signature)."""
        return (self.crypto_key.curve.key_size + 7) // 8

    def _public_crypto_key(self) -> ec.EllipticCurvePublicKey:
        key = self.crypto_key
        return key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key

    def _public_params(self) -> dict[str, Any]:
        numbers = self._public_crypto_key().public_numbers()
        size = self.coordinate_size
        return {"crv": self.curve, "x": _b64_int(numbers.x, size), "y": _b64_int(numbers.y, size)}

    def _private_params(self) -> dict[str, Any]:
        assert isinstance(self.crypto_key, ec.EllipticCurvePrivateKey)
        return {
            "d": _b64_int(self.crypto_key.private_numbers().private_value, self.coordinate_size)
        }


class OKPKey(Key):
    """An octet key pair (``kty`` ``OKP``, RFC 8037): Ed25519, Ed448, X25519 or X448."""

    kty = "OKP"
    __slots__ = ()

    def _holds_private(self) -> bool:
        return isinstance(self.crypto_key, tuple(cls for cls, _ in OKP_TYPES.values()))

    @property
    def curve(self) -> str:
        # Each OKP class is tried in turn: slow for a property read on every verification.
        if self._curve is not None:
            return self._curve
        for name, classes in OKP_TYPES.items():
            if isinstance(self.crypto_key, classes):
                object.__setattr__(self, "_curve", name)
                return name
        raise InvalidKeyError("not an OKP key")  # pragma: no cover - guarded by construction

    def _public_crypto_key(self) -> Any:
        return self.crypto_key.public_key() if self.is_private else self.crypto_key

    def _public_params(self) -> dict[str, Any]:
        x = self._public_crypto_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
        return {"crv": self.curve, "x": b64encode_str(x)}

    def _private_params(self) -> dict[str, Any]:
        raw = self.crypto_key.private_bytes(
            _RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return {"d": b64encode_str(raw)}


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
    return key if kid is not None else _rebound(key, kid=key.thumbprint())


def _rebound(key: _K, **changes: Any) -> _K:
    """A new key of the same material, with some of its binding changed (checked again)."""
    binding = {"alg": key.alg, "use": key.use, "key_ops": key.key_ops, "kid": key.kid,
               "weak_allowed": key.weak_allowed, **changes}  # fmt: skip
    return type(key)(key.crypto_key, **binding)


def from_crypto_key(crypto: Any, *, weak_allowed: bool = False, **binding: Any) -> Key:
    """Wrap a `cryptography` key object (or secret bytes) as a :class:`Key`."""
    key: Key
    if isinstance(crypto, bytes):
        return OctKey(crypto, weak_allowed=weak_allowed, **binding)
    if isinstance(crypto, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if crypto.key_size < MIN_RSA_BITS and not weak_allowed:
            raise InvalidKeyError(
                f"RSA key of {crypto.key_size} bits is under the {MIN_RSA_BITS}-bit minimum"
            )
        if not weak_allowed:
            refuse_roca(crypto)
        key = RSAKey(crypto, weak_allowed=weak_allowed, **binding)
    elif isinstance(crypto, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if crypto.curve.name not in CURVE_NAMES:
            raise InvalidKeyError(f"unsupported curve {crypto.curve.name}")
        key = ECKey(crypto, weak_allowed=weak_allowed, **binding)
    elif any(isinstance(crypto, classes) for classes in OKP_TYPES.values()):
        key = OKPKey(crypto, weak_allowed=weak_allowed, **binding)
    else:
        raise InvalidKeyError(f"unsupported key object {type(crypto).__name__}")
    return key


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
    from jot.jose import _keyio  # Parsing of the text formats lives apart.

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
        from jot.jose import _keyio

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
