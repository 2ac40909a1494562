"""JSON Web Keys: generation, import/export, thumbprints, KeySet (jot.jose.jwk, _keyio)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from jot.jose import KeySet, jwk
from jot.jose._b64 import b64encode_str
from jot.jose.errors import InvalidKeyError, KeyNotFoundError, UsageError
from jot.jose.jwk import ECKey, Key, OctKey, OKPKey, RSAKey

from .helpers import private_key

KINDS = ["oct", "RSA", "P-256", "P-384", "P-521", "secp256k1", "Ed25519", "Ed448", "X25519", "X448"]
ASYMMETRIC = KINDS[1:]
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def key_of(kind: str) -> Key:
    alg = {"oct": "HS256", "RSA": "RS256", "P-256": "ES256", "P-384": "ES384", "P-521": "ES512",
           "secp256k1": "ES256K", "Ed25519": "EdDSA", "Ed448": "Ed448"}.get(kind)  # fmt: skip
    if alg is not None:
        return private_key(alg, bound=False)
    return jwk.generate(kind)


def material(key: Key) -> dict[str, Any]:
    """The key's JWK without its binding (import from PEM/DER/SSH carries no kid)."""
    data = key.to_dict(private=key.is_private)
    for name in ("kid", "alg", "use", "key_ops"):
        data.pop(name, None)
    return data


# -- generation ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_generate(kind: str) -> None:
    key = key_of(kind)
    assert key.is_private
    assert key.kid == key.thumbprint()
    expected = {"oct": OctKey, "RSA": RSAKey}.get(kind) or (
        ECKey if kind.startswith(("P-", "secp")) else OKPKey
    )
    assert type(key) is expected
    if expected in (ECKey, OKPKey):
        assert key.curve == kind
    else:
        assert key.curve is None


def test_generate_binding_and_sizes() -> None:
    key = jwk.generate("oct", size=512, alg="HS512", use="sig", kid="mine")
    assert (key.alg, key.use, key.kid, len(key.crypto_key)) == ("HS512", "sig", "mine", 64)
    assert isinstance(private_key("RS256", bound=False), RSAKey)
    assert private_key("RS256", bound=False).size == 2048


@pytest.mark.parametrize(
    ("kind", "size"),
    [
        ("RSA", 1024),
        ("RSA", 2047),
        ("RSA", 0),
        ("oct", 64),
        ("oct", 257),
        ("oct", 0),
        ("DSA", None),
        ("P-192", None),
    ],
)
def test_generate_refuses(kind: str, size: int | None) -> None:
    with pytest.raises(UsageError):
        jwk.generate(kind, size=size)


# -- JWK export and import -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_jwk_round_trip(kind: str) -> None:
    key = key_of(kind)
    private = key.to_dict(private=True)
    again = jwk.import_key(private)
    assert again == key
    assert again.to_dict(private=True) == private
    assert jwk.import_key(key.to_json(private=True)) == key
    assert jwk.import_key(key.to_json(private=True).encode()) == key
    if kind != "oct":
        public = key.public()
        assert not public.is_private
        assert public.public() is public
        assert PRIVATE_MEMBERS.isdisjoint(public.to_dict())
        assert jwk.import_key(public.to_dict()) == public
        assert public.thumbprint() == key.thumbprint()
        assert public != key


@pytest.mark.parametrize("kind", KINDS)
def test_repr_never_shows_private_parameters(kind: str) -> None:
    key = key_of(kind)
    text = repr(key)
    for name, value in key.to_dict(private=True).items():
        if name in PRIVATE_MEMBERS:
            assert value not in text
    assert "private" in text
    assert str(key) == text


def test_public_keeps_binding_and_public_operations() -> None:
    key = jwk.import_key(
        {**private_key("ES256", bound=False).to_dict(private=True), "key_ops": ["sign", "verify"]},
        alg="ES256",
        use="sig",
        kid="k1",
    )
    public = key.public()
    assert (public.alg, public.use, public.kid, public.key_ops) == (
        "ES256",
        "sig",
        "k1",
        ("verify",),
    )


def test_allows() -> None:
    base = private_key("ES256", bound=False).to_dict(private=True)
    assert jwk.import_key(base).allows("sign")
    assert jwk.import_key({**base, "use": "sig"}).allows("verify")
    assert not jwk.import_key({**base, "use": "enc"}).allows("verify")
    assert jwk.import_key({**base, "use": "enc"}).allows("deriveKey")
    assert not jwk.import_key({**base, "key_ops": ["sign"]}).allows("verify")
    assert jwk.import_key({**base, "key_ops": ["verify"]}).allows("verify")


def test_equality() -> None:
    a = private_key("ES256", bound=False)
    assert a == jwk.import_key(a.to_dict(private=True))
    assert a != private_key("ES384", bound=False)
    assert a != "a key"
    with pytest.raises(TypeError):
        hash(a)


def test_oct_key_has_no_public_form() -> None:
    key = private_key("HS256", bound=False)
    with pytest.raises(UsageError):
        key.public()
    with pytest.raises(UsageError):
        key.to_dict()
    with pytest.raises(UsageError):
        key.to_pem()
    with pytest.raises(UsageError):
        key.to_der(private=True)


def test_public_key_has_no_private_export() -> None:
    public = private_key("ES256", bound=False).public()
    with pytest.raises(UsageError):
        public.to_dict(private=True)
    with pytest.raises(UsageError):
        public.to_pem(private=True)


def test_oct_from_secret() -> None:
    key = OctKey.from_secret("s" * 32, alg="HS256", kid="x")
    assert key.crypto_key == b"s" * 32
    assert (key.alg, key.kid) == ("HS256", "x")
    assert OctKey.from_secret(b"\x01" * 32).crypto_key == b"\x01" * 32
    with pytest.raises(InvalidKeyError):
        OctKey.from_secret(b"")


def test_thumbprint_uri_and_hashes() -> None:
    key = private_key("EdDSA", bound=False)
    assert key.thumbprint_uri() == (
        f"urn:ietf:params:oauth:jwk-thumbprint:sha-256:{key.thumbprint()}"
    )
    assert key.thumbprint_uri("sha384").startswith("urn:ietf:params:oauth:jwk-thumbprint:sha-384:")
    assert len(key.thumbprint("sha512")) == 86
    with pytest.raises(UsageError):
        key.thumbprint_uri("md5")


def test_oct_thumbprint_rfc7638() -> None:
    key = OctKey(b"\x00" * 32)
    import hashlib

    members = '{"k":"' + b64encode_str(b"\x00" * 32) + '","kty":"oct"}'
    assert key.thumbprint() == b64encode_str(hashlib.sha256(members.encode()).digest())


# -- PEM, DER, OpenSSH, certificates, cryptography objects ---------------------------------


@pytest.mark.parametrize("kind", ASYMMETRIC)
def test_pem_and_der_round_trip(kind: str) -> None:
    key = key_of(kind)
    for private in (True, False):
        for export in (key.to_pem, key.to_der):
            loaded = jwk.import_key(export(private=private))
            assert material(loaded) == material(key if private else key.public())


@pytest.mark.parametrize("kind", ["RSA", "P-256", "Ed25519"])
def test_encrypted_pem_and_der(kind: str) -> None:
    key = key_of(kind)
    for export in (key.to_pem, key.to_der):
        data = export(private=True, password=b"pw")
        assert material(jwk.import_key(data, password=b"pw")) == material(key)
        with pytest.raises(InvalidKeyError, match="give its password"):
            jwk.import_key(data)
        with pytest.raises(InvalidKeyError) as info:
            jwk.import_key(data, password=b"wrong")
        assert "pw" not in str(info.value)
    with pytest.raises(InvalidKeyError, match="not encrypted"):
        jwk.import_key(key.to_pem(private=True), password=b"pw")


def test_pem_text_as_str_and_traditional_formats() -> None:
    key = private_key("RS256", bound=False)
    assert material(jwk.import_key(key.to_pem(private=True).decode())) == material(key)
    pkcs1 = key.crypto_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert material(jwk.import_key(pkcs1)) == material(key)
    pkcs1_public = key.crypto_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert material(jwk.import_key(pkcs1_public)) == material(key.public())


@pytest.mark.parametrize("kind", ["RSA", "P-256", "P-384", "P-521", "Ed25519"])
def test_openssh_keys(kind: str) -> None:
    key = key_of(kind)
    public = key.crypto_key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert material(jwk.import_key(public + b" user@host\n")) == material(key.public())
    private = key.crypto_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    assert material(jwk.import_key(private)) == material(key)


def test_x509_certificate_gives_its_public_key() -> None:
    key = private_key("ES256", bound=False)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jot test")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.crypto_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.crypto_key, hashes.SHA256())
    )
    loaded = jwk.import_key(cert.public_bytes(serialization.Encoding.PEM))
    assert material(loaded) == material(key.public())


@pytest.mark.parametrize("kind", ASYMMETRIC)
def test_cryptography_objects(kind: str) -> None:
    key = key_of(kind)
    assert material(jwk.import_key(key.crypto_key)) == material(key)
    assert material(jwk.import_key(key.crypto_key.public_key())) == material(key.public())
    copy = jwk.import_key(key, kid="other")
    assert material(copy) == material(key)
    assert (copy.kid, key.kid) == ("other", key.thumbprint())  # the caller's key is unchanged


def test_import_binding_arguments() -> None:
    key = jwk.import_key(
        private_key("ES256", bound=False).to_pem(), alg="ES256", use="sig", kid="k"
    )
    assert key.to_dict() == {**key.to_dict(), "alg": "ES256", "use": "sig", "kid": "k"}


def test_import_checks_new_bindings() -> None:
    key = private_key("ES256", bound=False)
    with pytest.raises(InvalidKeyError, match="'use'"):
        jwk.import_key(key, use="signing")
    with pytest.raises(InvalidKeyError, match="'kid'"):
        jwk.import_key(key.to_pem(private=True), kid=7)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["oct", "RSA", "P-256", "Ed25519"])
def test_a_key_cannot_be_changed(kind: str) -> None:
    key = jwk.generate(kind, alg=None, use="sig", kid="k1")
    before = key.to_dict(private=True)
    for name in ["alg", "use", "key_ops", "kid", "crypto_key", "verifier", "weak_allowed",
                 "_curve", "_public_dict", "__class__", "other"]:  # fmt: skip
        with pytest.raises(AttributeError, match="cannot be changed"):
            setattr(key, name, None)
        with pytest.raises(AttributeError, match="cannot be changed"):
            delattr(key, name)
    assert key.to_dict(private=True) == before
    assert type(key) is {"oct": OctKey, "RSA": RSAKey, "P-256": ECKey, "Ed25519": OKPKey}[kind]
    # A new binding is a new key; the first is unchanged.
    assert jwk.import_key(key, kid="k2").kid == "k2"
    assert key.kid == "k1"


def test_a_keyset_cannot_be_changed() -> None:
    one, two = jwk.generate("Ed25519", kid="one"), jwk.generate("Ed25519", kid="two")
    keys = KeySet([one])
    for name in ["keys", "rejected", "_by_kid"]:
        with pytest.raises(AttributeError, match="cannot be changed"):
            setattr(keys, name, (two,))
        with pytest.raises(AttributeError, match="cannot be changed"):
            delattr(keys, name)
    assert keys.keys == (one,)
    with pytest.raises(KeyNotFoundError):
        keys.get("two")


def test_import_refuses_weak_rsa() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(InvalidKeyError, match="2048"):
        jwk.import_key(weak)
    pem = weak.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidKeyError, match="2048"):
        jwk.import_key(pem)
    numbers = weak.private_numbers()
    data = {"kty": "RSA", "n": _b64i(numbers.public_numbers.n), "e": "AQAB"}
    with pytest.raises(InvalidKeyError, match="2048"):
        jwk.import_key(data)


def _b64i(value: int) -> str:
    return b64encode_str(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@pytest.mark.parametrize(
    "data",
    [
        b"not a key at all",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"ssh-rsa AAAA",
        b"0\x03\x02\x01\x00",
        b"{not json",
        b'{"keys": []}',
        b"[]",
        "secret",
    ],
)
def test_import_refuses_garbage(data: bytes | str) -> None:
    with pytest.raises(InvalidKeyError):
        jwk.import_key(data)


def test_import_refuses_unsupported_objects() -> None:
    with pytest.raises(InvalidKeyError):
        jwk.import_key(object())
    dsa_key = dsa.generate_private_key(1024)
    with pytest.raises(InvalidKeyError):
        jwk.import_key(dsa_key)
    pem = dsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKeyError):
        jwk.import_key(pem)
    with pytest.raises(InvalidKeyError, match="unsupported curve"):
        jwk.import_key(ec.generate_private_key(ec.SECP192R1()))


def _ec_jwk(**changes: Any) -> dict[str, Any]:
    data = private_key("ES256", bound=False).to_dict(private=True)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _rsa_jwk(**changes: Any) -> dict[str, Any]:
    data = private_key("RS256", bound=False).to_dict(private=True)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _okp_jwk(**changes: Any) -> dict[str, Any]:
    data = private_key("EdDSA", bound=False).to_dict(private=True)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


OTHER_EC = private_key("ES256", bound=False)
BAD_JWKS = {
    "not an object": ["kty", "oct"],
    "no kty": {"k": "AAAA"},
    "unknown kty": {"kty": "DSA"},
    "kty not a string": {"kty": ["oct"]},
    "oct without k": {"kty": "oct"},
    "oct k empty": {"kty": "oct", "k": ""},
    "oct k not base64url": {"kty": "oct", "k": "AA=="},
    "oct k not a string": {"kty": "oct", "k": 12},
    "alg not a string": {"kty": "oct", "k": "AAAA", "alg": 1},
    "kid not a string": {"kty": "oct", "k": "AAAA", "kid": 1},
    "use unknown": {"kty": "oct", "k": "AAAA", "use": "both"},
    "use a list": {"kty": "oct", "k": "AAAA", "use": ["sig"]},
    "key_ops a string": {"kty": "oct", "k": "AAAA", "key_ops": "sign"},
    "key_ops an object": {"kty": "oct", "k": "AAAA", "key_ops": {"sign": True}},
    "key_ops duplicate": {"kty": "oct", "k": "AAAA", "key_ops": ["sign", "sign"]},
    "key_ops unknown": {"kty": "oct", "k": "AAAA", "key_ops": ["fly"]},
    "key_ops nested list": {"kty": "oct", "k": "AAAA", "key_ops": [["sign"]]},
    "key_ops non-string": {"kty": "oct", "k": "AAAA", "key_ops": [1]},
    "EC unknown curve": _ec_jwk(crv="P-192"),
    "EC curve not a string": _ec_jwk(crv=["P-256"]),
    "EC x short": _ec_jwk(x="AAAA"),
    "EC y missing": _ec_jwk(y=None),
    "EC point off the curve": _ec_jwk(x=b64encode_str(b"\x01" * 32), d=None),
    "EC d mismatched": _ec_jwk(d=b64encode_str(b"\x01" * 32)),
    "EC d zero": _ec_jwk(d=b64encode_str(b"\x00" * 32)),
    "EC d short": _ec_jwk(d="AAAA"),
    "RSA n missing": _rsa_jwk(n=None),
    "RSA e zero": {"kty": "RSA", "n": _rsa_jwk()["n"], "e": "AA"},
    "RSA partial CRT": _rsa_jwk(dp=None),
    "RSA multi-prime": _rsa_jwk(oth=[]),
    "RSA d wrong": _rsa_jwk(
        d=b64encode_str(b"\x07" * 256), p=None, q=None, dp=None, dq=None, qi=None
    ),
    "RSA p wrong": _rsa_jwk(p=b64encode_str(b"\x07" * 128)),
    "OKP unknown curve": _okp_jwk(crv="Ed1"),
    "OKP x wrong size": _okp_jwk(x="AAAA", d=None),
    "OKP d wrong size": _okp_jwk(d="AAAA"),
    "OKP d mismatched": _okp_jwk(d=b64encode_str(b"\x01" * 32)),
}


@pytest.mark.parametrize("data", list(BAD_JWKS.values()), ids=list(BAD_JWKS))
def test_bad_jwk_is_invalid_key_error(data: Any) -> None:
    with pytest.raises(InvalidKeyError) as info:
        jwk.import_key(data) if isinstance(data, dict) else jwk.import_key({"keys": data})
    # The message never contains key material.
    for value in data.values() if isinstance(data, dict) else ():
        if isinstance(value, str) and len(value) > 20:
            assert value not in str(info.value)


@pytest.mark.parametrize("data", list(BAD_JWKS.values()), ids=list(BAD_JWKS))
def test_keyset_reports_unusable_keys(data: Any) -> None:
    good = private_key("ES256", bound=False).public().to_dict()
    keys = KeySet.from_dict({"keys": [good, data, good]})
    assert [k.kid for k in keys] == [good["kid"], good["kid"]]
    assert len(keys.rejected) == 1
    index, reason = keys.rejected[0]
    assert index == 1
    assert reason


def test_ed25519_private_object_is_okp() -> None:
    key = jwk.import_key(ed25519.Ed25519PrivateKey.generate())
    assert isinstance(key, OKPKey)
    assert key.kid is None  # import keeps the kid it is given; generate sets the thumbprint


# -- KeySet ----------------------------------------------------------------------------------


def test_keyset_lookup_and_export() -> None:
    a = private_key("ES256")
    b = private_key("EdDSA")
    keys = KeySet([a, b])
    assert keys.get(a.kid or "") is a
    assert keys.find(b.kid) is b
    assert keys.find(None) is None
    assert keys.find("missing") is None
    assert a.kid in keys
    assert "missing" not in keys
    assert len(keys) == 2
    assert list(keys) == [a, b]
    with pytest.raises(KeyNotFoundError):
        keys.get("../../etc/passwd")
    public = keys.to_dict()
    assert public == {"keys": [a.public().to_dict(), b.public().to_dict()]}
    assert all(PRIVATE_MEMBERS.isdisjoint(entry) for entry in public["keys"])
    assert keys.to_dict(private=True)["keys"][0]["d"]
    again = KeySet.from_dict(public)
    assert again.rejected == ()
    assert [k.kid for k in again] == [a.kid, b.kid]
    assert repr(keys) == f"<KeySet kids={[a.kid, b.kid]!r}>"


def test_keyset_shared_kid_selects_no_key() -> None:
    # Two verifiers could choose different keys for it: the kid selects neither; the other
    # keys of the set still do.
    a = jwk.import_key(private_key("ES256", bound=False).to_dict(private=True), kid="same")
    b = jwk.import_key(private_key("ES384", bound=False).to_dict(private=True), kid="same")
    c = jwk.import_key(private_key("EdDSA", bound=False).to_dict(private=True), kid="other")
    for keys in (KeySet([a, b, c]), KeySet.from_dict({"keys": [k.to_dict() for k in (a, b, c)]})):
        with pytest.raises(KeyNotFoundError, match="more than one key"):
            keys.get("same")
        assert keys.find("same") is None
        assert "same" not in keys
        assert "other" in keys
        assert keys.get("other").thumbprint() == c.thumbprint()
        assert len(keys) == 3
    with pytest.raises(KeyNotFoundError, match="no key with"):
        KeySet([a]).get("missing")


def test_keyset_refuses_to_mix_secret_and_public_keys() -> None:
    secret = jwk.generate("oct", kid="s")
    public = private_key("ES256").public()
    for mixed in ([secret, public], [public, secret]):
        with pytest.raises(InvalidKeyError, match="mixes secret"):
            KeySet(mixed)
        assert len(KeySet(mixed, allow_mixed=True)) == 2
    entries = {"keys": [secret.to_dict(private=True), public.to_dict()]}
    with pytest.raises(InvalidKeyError, match="mixes secret"):
        KeySet.from_dict(entries)
    with pytest.raises(InvalidKeyError, match="mixes secret"):
        KeySet.from_json(json.dumps(entries))
    assert len(KeySet.from_json(json.dumps(entries), allow_mixed=True)) == 2
    # Sets of one kind are as before.
    assert len(KeySet([secret, jwk.generate("oct")])) == 2
    assert len(KeySet([public, jwk.generate("Ed25519")])) == 2


def test_keyset_from_json() -> None:
    public = private_key("ES256").public().to_dict()
    text = '{"keys": [' + jwk.import_key(public).to_json() + "]}"
    assert len(KeySet.from_json(text)) == 1
    for bad in ("{", "[]", '{"keys": {}}', '{"keys": 1}', '{"keys":[],"keys":[]}'):
        with pytest.raises(InvalidKeyError):
            KeySet.from_json(bad)
    with pytest.raises(InvalidKeyError):
        KeySet.from_dict([])  # type: ignore[arg-type]


@pytest.mark.parametrize("last", [b" ", b"\n", b"\t", b"\r", b"\x0b", b"\x0c"])
def test_der_ending_in_a_whitespace_byte_loads(last: bytes) -> None:
    # DER is binary: a key whose last byte happens to be a whitespace character must load.
    crypto = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x01" * 31 + last)
    der = crypto.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert der.endswith(last)
    assert material(jwk.import_key(der)) == material(jwk.import_key(crypto))


def test_rsa_jwk_without_crt_parameters() -> None:
    key = private_key("RS256", bound=False)
    data = key.to_dict(private=True)
    minimal = {name: data[name] for name in ("kty", "n", "e", "d")}
    assert material(jwk.import_key(minimal)) == material(key)


def test_der_looking_secret_that_is_no_key_is_a_fine_secret() -> None:
    secret = b"\x30" + bytes(range(1, 40))
    assert OctKey.from_secret(secret).crypto_key == secret


def test_unexpected_cryptography_errors_become_invalid_key_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptography.exceptions import UnsupportedAlgorithm

    def refuse(data: bytes) -> None:
        raise UnsupportedAlgorithm("odd key")

    monkeypatch.setattr(serialization, "load_pem_public_key", refuse)
    with pytest.raises(InvalidKeyError, match="UnsupportedAlgorithm"):
        jwk.import_key(private_key("ES256", bound=False).to_pem())


def test_pem_with_ec_parameters_before_the_private_key() -> None:
    # What `openssl ecparam -name prime256v1 -genkey` writes.
    key = private_key("ES256", bound=False)
    traditional = key.crypto_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    parameters = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    assert material(jwk.import_key(parameters + traditional)) == material(key)
