"""Parsing keys: JWK objects (RFC 7517/7518 §6/8037), PEM, DER and OpenSSH encodings.

Every failure is an :class:`InvalidKeyError` whose message never contains key material.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jot.jose import _json
from jot.jose._b64 import b64decode
from jot.jose._encoded import SSH_PREFIXES
from jot.jose._jwk_tables import CURVES, OKP_TYPES
from jot.jose._keys import ECKey, Key, OctKey, OKPKey, from_crypto_key, rebound
from jot.jose.errors import InvalidKeyError, JoseError

__all__ = ["from_jwk", "import_key"]

_RSA_CRT = ("p", "q", "dp", "dq", "qi")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _member(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if value is None:
        raise InvalidKeyError(f"JWK member {name!r} is missing")
    if not isinstance(value, str):
        raise InvalidKeyError(f"JWK member {name!r} is not a string")
    try:
        return b64decode(value)
    except JoseError:
        raise InvalidKeyError(f"JWK member {name!r} is not base64url") from None


def _int(jwk: Mapping[str, Any], name: str) -> int:
    return int.from_bytes(_member(jwk, name), "big")


def _sized(jwk: Mapping[str, Any], name: str, size: int) -> bytes:
    raw = _member(jwk, name)
    if len(raw) != size:
        raise InvalidKeyError(f"JWK member {name!r} must be {size} bytes")
    return raw


def from_jwk(jwk: Any, *, weak_allowed: bool = False) -> Key:
    """Parse one JWK object."""
    if not isinstance(jwk, Mapping):
        raise InvalidKeyError("a JWK must be a JSON object")
    binding: dict[str, Any] = {
        "alg": jwk.get("alg"),
        "use": jwk.get("use"),
        "key_ops": jwk.get("key_ops"),
        "kid": jwk.get("kid"),
    }
    kty = jwk.get("kty")
    try:
        if kty == "oct":
            secret = _member(jwk, "k")
            if not secret:
                raise InvalidKeyError("JWK member 'k' is empty")
            return OctKey(secret, weak_allowed=weak_allowed, **binding)
        if kty == "RSA":
            return from_crypto_key(_rsa(jwk), weak_allowed=weak_allowed, **binding)
        if kty == "EC":
            return ECKey(_ec(jwk), weak_allowed=weak_allowed, **binding)
        if kty == "OKP":
            return OKPKey(_okp(jwk), weak_allowed=weak_allowed, **binding)
    except ValueError:
        # `cryptography` raises ValueError for inconsistent numbers and off-curve points.
        raise InvalidKeyError(f"JWK of kty {kty!r} has invalid key values") from None
    raise InvalidKeyError(f"unsupported JWK kty {_short(kty)}")


def _rsa(jwk: Mapping[str, Any]) -> rsa.RSAPrivateKey | rsa.RSAPublicKey:
    public = rsa.RSAPublicNumbers(_int(jwk, "e"), _int(jwk, "n"))
    if "d" not in jwk:
        return public.public_key()
    if "oth" in jwk:
        raise InvalidKeyError("multi-prime RSA keys ('oth') are not supported")
    d = _int(jwk, "d")
    present = [name in jwk for name in _RSA_CRT]
    if all(present):
        p, q, dp, dq, qi = (_int(jwk, name) for name in _RSA_CRT)
    elif not any(present):
        # RFC 7518 §6.3.2: the CRT parameters are optional; recover them from n, e, d.
        p, q = rsa.rsa_recover_prime_factors(public.n, public.e, d)
        dp, dq, qi = rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q)
    else:
        raise InvalidKeyError("RSA JWK has some but not all of p, q, dp, dq, qi")
    return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, public).private_key()


def _ec(jwk: Mapping[str, Any]) -> ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey:
    crv = jwk.get("crv")
    curve = CURVES.get(crv) if isinstance(crv, str) else None
    if curve is None:
        raise InvalidKeyError(f"unsupported EC curve {_short(crv)}")
    size = (curve.key_size + 7) // 8
    x = int.from_bytes(_sized(jwk, "x", size), "big")
    y = int.from_bytes(_sized(jwk, "y", size), "big")
    public = ec.EllipticCurvePublicNumbers(x, y, curve).public_key()  # Checks the point.
    if "d" not in jwk:
        return public
    private = ec.derive_private_key(int.from_bytes(_sized(jwk, "d", size), "big"), curve)
    if private.public_key().public_numbers() != public.public_numbers():
        raise InvalidKeyError("EC JWK private key does not match its public key")
    return private


def _okp(jwk: Mapping[str, Any]) -> Any:
    crv = jwk.get("crv")
    classes = OKP_TYPES.get(crv) if isinstance(crv, str) else None
    if classes is None:
        raise InvalidKeyError(f"unsupported OKP curve {_short(crv)}")
    private_cls, public_cls = classes
    x = _member(jwk, "x")
    public = public_cls.from_public_bytes(x)
    if "d" not in jwk:
        return public
    private = private_cls.from_private_bytes(_member(jwk, "d"))
    raw = serialization.Encoding.Raw
    if private.public_key().public_bytes(raw, serialization.PublicFormat.Raw) != x:
        raise InvalidKeyError("OKP JWK private key does not match its public key")
    return private


def import_key(
    data: Any,
    *,
    password: bytes | None = None,
    alg: str | None = None,
    use: str | None = None,
    kid: str | None = None,
    weak_allowed: bool = False,
) -> Key:
    """See :func:`jot.jose.jwk.import_key`; ``weak_allowed`` is for :mod:`jot.jose.hazmat`."""
    if isinstance(data, Key):
        # A copy, so that new bindings never change the caller's key object.
        key = from_crypto_key(
            data.crypto_key,
            weak_allowed=weak_allowed or data.weak_allowed,
            alg=data.alg,
            use=data.use,
            key_ops=data.key_ops,
            kid=data.kid,
        )
    elif isinstance(data, Mapping):
        key = from_jwk(data, weak_allowed=weak_allowed)
    elif isinstance(data, str | bytes):
        key = _from_text(data.encode() if isinstance(data, str) else data, password, weak_allowed)
    else:
        key = from_crypto_key(data, weak_allowed=weak_allowed)
    binding = {name: value for name, value in (("alg", alg), ("use", use), ("kid", kid))
               if value is not None}  # fmt: skip
    return rebound(key, **binding) if binding else key


def _from_text(data: bytes, password: bytes | None, weak_allowed: bool) -> Key:
    # DER (a SEQUENCE, 0x30) is binary: stripping would eat key bytes that look like spaces.
    stripped = data if data[:1] == b"\x30" else data.strip()
    if stripped.startswith(b"{"):
        try:
            jwk = _json.loads_object(stripped, "JWK")
        except JoseError:
            raise InvalidKeyError("key text is not valid JWK JSON") from None
        if "keys" in jwk:
            raise InvalidKeyError("this is a JWK set; load it with KeySet.from_dict")
        return from_jwk(jwk, weak_allowed=weak_allowed)
    try:
        crypto = _load_encoded(stripped, password)
    except TypeError:
        need = "is encrypted: give its password" if password is None else "is not encrypted"
        raise InvalidKeyError(f"the private key {need}") from None
    except (ValueError, UnicodeError):
        raise InvalidKeyError(
            "could not load the key (not JWK, PEM, DER or OpenSSH, or a wrong password)"
        ) from None
    except Exception as exc:  # `cryptography` raises UnsupportedAlgorithm for odd keys.
        raise InvalidKeyError(f"could not load the key: {type(exc).__name__}") from None
    return from_crypto_key(crypto, weak_allowed=weak_allowed)


def _load_encoded(data: bytes, password: bytes | None) -> Any:
    if data.startswith(b"-----BEGIN OPENSSH PRIVATE KEY"):
        return serialization.load_ssh_private_key(data, password)
    if data.startswith(b"-----BEGIN CERTIFICATE"):
        return x509.load_pem_x509_certificate(data).public_key()
    # Any block, not just the first: `openssl ecparam -genkey` writes EC PARAMETERS first.
    if data.startswith(b"-----BEGIN") and b"PRIVATE KEY-----" in data:
        return serialization.load_pem_private_key(data, password)
    if data.startswith(b"-----BEGIN"):
        return serialization.load_pem_public_key(data)
    if data.startswith(SSH_PREFIXES):
        return serialization.load_ssh_public_key(data)
    try:
        return serialization.load_der_private_key(data, password)
    except ValueError:
        return serialization.load_der_public_key(data)
