"""The key types (RFC 7517, RFC 7518 §6, RFC 8037) and their making from `cryptography` keys.

The bottom of the key modules: :mod:`jot.jose._keyio` parses the text formats into these
types and :mod:`jot.jose.jwk` is their public face (with generation and :class:`KeySet`);
this module imports neither, so neither needs an import hidden inside a function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, NoReturn, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jot.jose import _json
from jot.jose._b64 import b64encode_str
from jot.jose._encoded import looks_like_key_encoding
from jot.jose._jwk_tables import (
    CURVE_NAMES,
    OKP_TYPES,
    PUBLIC_OPS,
    THUMBPRINT_MEMBERS,
    USES,
    check_key_ops,
)
from jot.jose._roca import refuse_roca
from jot.jose.errors import InvalidKeyError, UsageError

__all__ = [
    "MIN_RSA_BITS",
    "ECKey",
    "Key",
    "OKPKey",
    "OctKey",
    "RSAKey",
    "from_crypto_key",
    "rebound",
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


def rebound(key: _K, **changes: Any) -> _K:
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
