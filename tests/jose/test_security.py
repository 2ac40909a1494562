"""One test (or a few) per security rule of DESIGN.md; each fails if its rule is broken."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from jot.jose import KeySet, hazmat, jwa, jwk, jws, jwt
from jot.jose._b64 import b64decode, b64encode_str
from jot.jose.errors import (
    BadSignatureError,
    InvalidKeyError,
    InvalidTokenError,
    JoseError,
    JotError,
    KeyNotFoundError,
    MalformedTokenError,
    UnsupportedAlgorithmError,
    UnsupportedHeaderError,
    UsageError,
)
from jot.jose.jwk import Key, OctKey

from .helpers import private_key

NOW = 1_800_000_000
CLAIMS = {"sub": "alice", "exp": NOW + 60}


def forge(header: dict[str, Any] | bytes, payload: bytes, key: Key | None = None) -> str:
    """A compact JWS with exactly these bytes, signed with ``key`` (HMAC/Ed25519) or not."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    signing_input = f"{b64encode_str(raw)}.{b64encode_str(payload)}"
    return f"{signing_input}.{sign_raw(signing_input, key)}"


def sign_raw(signing_input: str, key: Key | None) -> str:
    if key is None:
        return ""
    alg = "HS256" if isinstance(key, OctKey) else "EdDSA"
    return b64encode_str(jwa.get_algorithm(alg).sign(key, signing_input.encode()))


# -- alg "none" and the allow-list -------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_never_accepted(alg: str) -> None:
    payload = json.dumps(CLAIMS).encode()
    for signature in ("", "AAAA"):
        token = forge({"alg": alg}, payload) + signature
        for keys in (private_key("HS256"), KeySet([private_key("HS256")])):
            with pytest.raises(UnsupportedAlgorithmError):
                jwt.decode(token, keys, now=NOW)
    with pytest.raises(UsageError):
        jwt.decode(forge({"alg": "none"}, payload), private_key("HS256"), algorithms=["none"])
    assert "none" not in jwa.SIGNATURE_ALGORITHMS
    # Only the hazmat layer shows such a token, and it checks nothing by design.
    assert hazmat.decode_unverified(forge({"alg": "none"}, payload)).payload == CLAIMS


def test_the_allow_list_decides_not_the_header() -> None:
    es256 = private_key("ES256")
    token = jwt.encode(CLAIMS, private_key("ES384"), headers={"kid": es256.kid})
    with pytest.raises(UnsupportedAlgorithmError):
        jwt.decode(token, KeySet([es256.public()]), now=NOW)
    unbound = jwk.import_key({k: v for k, v in es256.public().to_dict().items() if k != "alg"})
    with pytest.raises(UsageError):  # An unbound key and no allow-list: nothing is allowed.
        jwt.decode(token, unbound, now=NOW)


# -- algorithm confusion: public key text as an HMAC secret --------------------------------


def _public_encodings(key: Key) -> list[bytes]:
    public = key.public()
    return [
        public.to_pem(),
        public.to_pem() + b"\n",
        b"  " + public.to_pem(),
        public.to_der(),
        public.to_json().encode(),
        key.crypto_key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        key.crypto_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        )
        if isinstance(key.crypto_key, rsa.RSAPrivateKey)
        else public.to_pem(),
        key.to_pem(private=True),
        key.to_der(private=True),
    ]


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_key_encodings_never_become_hmac_secrets(alg: str) -> None:
    for encoding in _public_encodings(private_key(alg, bound=False)):
        with pytest.raises(InvalidKeyError):
            OctKey.from_secret(encoding)
        with pytest.raises(InvalidKeyError):
            hazmat.weak_secret(encoding)
        if encoding.isascii():  # The same text given as str.
            with pytest.raises(InvalidKeyError):
                OctKey.from_secret(encoding.decode("ascii"))
        # import_key never turns bytes into an HMAC secret either.
        assert not isinstance(jwk.import_key(encoding), OctKey)


def test_classic_rs256_to_hs256_confusion_is_refused() -> None:
    rsa_key = private_key("RS256")
    public_pem = rsa_key.public().to_pem()
    # The attacker signs with HS256, using the server's public PEM as the HMAC secret.
    header = {"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}
    token = forge(header, json.dumps(CLAIMS).encode(), OctKey(public_pem))
    with pytest.raises(UnsupportedAlgorithmError):
        jwt.decode(token, rsa_key.public(), now=NOW)
    with pytest.raises(UsageError):
        jwt.decode(token, rsa_key.public(), algorithms=["RS256", "HS256"], now=NOW)
    with pytest.raises(KeyNotFoundError):
        jwt.decode(token, KeySet([rsa_key.public()]), algorithms=["RS256", "HS256"], now=NOW)
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", rsa_key, alg="HS256")


# -- kid values ---------------------------------------------------------------------------------

HOSTILE_KIDS = [
    "../../../../dev/null",
    "/etc/passwd",
    "' OR '1'='1' --",
    "x'; DROP TABLE keys; --",
    "|cat /etc/passwd",
    "\u0000",
    "%00",
    "http://attacker.example/key",
    "k" * 10_000,
    "",
]


@pytest.mark.parametrize("kid", HOSTILE_KIDS, ids=range(len(HOSTILE_KIDS)))
def test_kid_is_only_a_lookup_key(kid: str) -> None:
    attacker = jwk.generate("Ed25519")
    token = jwt.encode(CLAIMS, attacker, headers={"kid": kid})
    with pytest.raises(KeyNotFoundError) as info:
        jwt.decode(token, KeySet([private_key("EdDSA").public()]), now=NOW)
    if kid:
        assert kid not in str(info.value)


@pytest.mark.parametrize("kid", [1, None, ["a"], {"a": 1}, True], ids=repr)
def test_kid_must_be_a_string(kid: Any) -> None:
    key = private_key("HS256")
    token = forge({"alg": "HS256", "kid": kid}, json.dumps(CLAIMS).encode(), key)
    with pytest.raises(MalformedTokenError):
        jwt.decode(token, KeySet([key]), now=NOW)


# -- jwk / jku / x5u / x5c are never used to find a key ---------------------------------


@pytest.mark.parametrize("with_kid", [False, True])
def test_embedded_jwk_is_never_trusted(with_kid: bool) -> None:
    trusted = private_key("EdDSA")
    attacker = jwk.generate("Ed25519")
    headers: dict[str, Any] = {
        "jwk": attacker.public().to_dict(),
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIB"],
    }
    if with_kid:
        headers["kid"] = trusted.kid
    token = jwt.encode(CLAIMS, attacker, headers=headers)
    if not with_kid:
        # encode adds the attacker's kid; forge one without, to test selection by alg alone.
        token = forge(
            {"alg": "EdDSA", "jwk": attacker.public().to_dict()},
            json.dumps(CLAIMS).encode(),
            attacker,
        )
    keyset = KeySet([trusted.public()])
    with pytest.raises(BadSignatureError):
        jwt.decode(token, keyset, now=NOW)
    with pytest.raises(BadSignatureError):
        jwt.decode(token, trusted.public(), now=NOW)
    # The attacker's own key would have verified it: the rejection is about trust alone.
    assert jwt.decode(token, attacker.public(), algorithms=["EdDSA"], now=NOW) == CLAIMS


def test_empty_keyset_finds_nothing_even_with_embedded_jwk() -> None:
    attacker = jwk.generate("Ed25519")
    token = jwt.encode(CLAIMS, attacker, headers={"jwk": attacker.public().to_dict()})
    other = jwk.generate("Ed25519", alg="EdDSA")
    with pytest.raises(KeyNotFoundError):
        jwt.decode(token, KeySet([other.public()]), now=NOW)


# -- crit and b64 -------------------------------------------------------------------------------


def test_unknown_crit_is_rejected() -> None:
    key = private_key("HS256")
    token = forge(
        {"alg": "HS256", "crit": ["http://example.com/must-understand"],
         "http://example.com/must-understand": True},
        json.dumps(CLAIMS).encode(),
        key,
    )  # fmt: skip
    with pytest.raises(UnsupportedHeaderError):
        jwt.decode(token, key, now=NOW)
    with pytest.raises(UnsupportedHeaderError):
        jws.verify_compact(token, key)


def test_b64_outside_crit_is_rejected() -> None:
    key = private_key("HS256")
    for b64 in (False, True):
        header = {"alg": "HS256", "b64": b64}
        token = forge(header, json.dumps(CLAIMS).encode(), key)
        with pytest.raises(UnsupportedHeaderError):
            jws.verify_compact(token, key)
    token = forge({"alg": "HS256", "b64": "false", "crit": ["b64"]}, b"{}", key)
    with pytest.raises(MalformedTokenError):
        jws.verify_compact(token, key)


# -- strict base64url, exact segments, strict JSON, size limits --------------------------------


def _lax_variants(segment: str) -> list[str]:
    variants = [
        segment + "=",
        segment + "==",
        " " + segment,
        segment + "\n",
        segment[:4] + " " + segment[4:],
    ]
    variants.append(
        segment.replace("-", "+").replace("_", "/")
        if "-" in segment or "_" in segment
        else segment + "+"
    )
    if len(segment) % 4:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(segment[-1])
        variants.append(segment[:-1] + alphabet[last + 1])  # non-zero trailing bits
    return variants


@pytest.mark.parametrize("part", [0, 1, 2], ids=["header", "payload", "signature"])
def test_lax_base64_is_rejected_even_with_a_valid_signature(part: int) -> None:
    key = private_key("HS256")
    header = b64encode_str(b'{"alg":"HS256"}')  # 20 characters: 4k
    payload = b64encode_str(json.dumps({**CLAIMS, "p": "x"}).encode())
    if part == 0:
        header = b64encode_str(b'{"alg":"HS256" }')  # 22 characters: has trailing bits
    assert len(header) % 4 or part != 0
    segments = [header, payload, sign_raw(f"{header}.{payload}", key)]
    for lax in _lax_variants(segments[part]):
        forged = list(segments)
        forged[part] = lax
        if part != 2:  # Re-sign what the attacker changed: only the encoding is wrong.
            forged[2] = sign_raw(f"{forged[0]}.{forged[1]}", key)
        with pytest.raises(MalformedTokenError):
            jwt.decode(".".join(forged), key, now=NOW)


@pytest.mark.parametrize(
    "token",
    ["", ".", "..", "...", "a.b", "a.b.c.d", "a.b.c.d.e", "a", "eyJhbGciOiJIUzI1NiJ9.e30"],
)
def test_segments_must_be_exactly_three(token: str) -> None:
    with pytest.raises(MalformedTokenError):
        jwt.decode(token, private_key("HS256"), now=NOW)


def test_extra_segments_around_a_valid_token() -> None:
    key = private_key("HS256")
    token = jwt.encode(CLAIMS, key)
    for bad in (token + ".", "." + token, token + ".x", token.replace(".", "..", 1)):
        with pytest.raises(MalformedTokenError):
            jwt.decode(bad, key, now=NOW)


def test_a_jwe_is_not_guessed() -> None:
    header = b64encode_str(b'{"alg":"dir","enc":"A128GCM"}')
    with pytest.raises(MalformedTokenError):
        jwt.decode(f"{header}.x.AAAA.AAAA.AAAA", private_key("HS256"), now=NOW)


@pytest.mark.parametrize("where", ["header", "payload"])
def test_duplicate_member_names_are_rejected(where: str) -> None:
    key = private_key("HS256")
    header = (
        b'{"alg":"HS256","typ":"JWT","typ":"jot+jwt"}' if where == "header" else b'{"alg":"HS256"}'
    )
    payload = (
        b'{"sub":"alice","exp":1800000060,"sub":"admin"}'
        if where == "payload"
        else b'{"exp":1800000060}'
    )
    token = forge(header, payload, key)
    with pytest.raises(MalformedTokenError, match="duplicate"):
        jwt.decode(token, key, now=NOW)


def test_non_utf8_is_rejected() -> None:
    key = private_key("HS256")
    with pytest.raises(MalformedTokenError):
        jwt.decode(forge(b'{"alg":"HS256"}', b'{"sub":"\xff","exp":1800000060}', key), key, now=NOW)
    with pytest.raises(MalformedTokenError):
        jwt.decode(jwt.encode(CLAIMS, key).encode() + b"\xff", key, now=NOW)


def test_size_limit_is_checked_before_splitting_or_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = private_key("HS256")
    calls: list[str] = []
    real = jws.b64decode

    def spy(data: str | bytes) -> bytes:
        calls.append("b64decode")
        return real(data)

    monkeypatch.setattr(jws, "b64decode", spy)
    huge = "." * (jwt.MAX_SIZE + 1)  # would fail the segment count if that came first
    with pytest.raises(MalformedTokenError, match="larger than"):
        jwt.decode(huge, key, now=NOW)
    with pytest.raises(MalformedTokenError, match="larger than"):
        jws.verify_compact("a" * (jws.MAX_SIZE + 1), key)
    with pytest.raises(MalformedTokenError, match="larger than"):
        jws.verify_json("{" * (jws.MAX_SIZE + 1), key)
    with pytest.raises(MalformedTokenError, match="larger than"):
        hazmat.decode_unverified("." * (2 * 1024 * 1024))
    assert calls == []


# -- ECDSA and EdDSA signature shapes ----------------------------------------------------------


ECDSA = ["ES256", "ES384", "ES512", "ES256K"]


@pytest.mark.parametrize("alg", ECDSA)
def test_ecdsa_signature_shape(alg: str) -> None:
    key = private_key(alg)
    algorithm = jwa.get_algorithm(alg)
    assert isinstance(algorithm, jwa.ECDSAAlgorithm)
    token = jws.sign_compact(b"payload", key)
    signing_input, _, encoded = token.rpartition(".")
    signature = b64decode(encoded)
    size = algorithm.size
    assert len(signature) == 2 * size
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    n = algorithm.order
    der = key.crypto_key.sign(signing_input.encode(), algorithm.ecdsa)
    assert decode_dss_signature(der)  # a valid DER signature of the same input
    bad = {
        "DER instead of r||s": der,
        "one byte short": signature[:-1],
        "one byte long": signature + b"\x00",
        "leading zero added": b"\x00" + signature,
        "empty": b"",
        "r = 0": bytes(size) + signature[size:],
        "s = 0": signature[:size] + bytes(size),
        "r = s = 0 (CVE-2022-21449)": bytes(2 * size),
        "r = n": n.to_bytes(size, "big") + signature[size:],
        "s = n": signature[:size] + n.to_bytes(size, "big"),
        "s = n + s": signature[:size] + (s + n).to_bytes(size, "big")
        if (s + n).bit_length() <= 8 * size
        else signature[:size] + (n + 1).to_bytes(size, "big"),
        "r and s swapped": signature[size:] + signature[:size],
    }
    assert r
    for name, forged in bad.items():
        assert not algorithm.verify(key, signing_input.encode(), forged), name
        with pytest.raises(BadSignatureError):
            jws.verify_compact(f"{signing_input}.{b64encode_str(forged)}", key.public())


@pytest.mark.parametrize("alg", ["EdDSA", "Ed448"])
def test_eddsa_signature_length(alg: str) -> None:
    key = private_key(alg)
    token = jws.sign_compact(b"payload", key)
    signing_input, _, encoded = token.rpartition(".")
    signature = b64decode(encoded)
    for forged in (signature[:-1], signature + b"\x00", b"", bytes(len(signature))):
        with pytest.raises(BadSignatureError):
            jws.verify_compact(f"{signing_input}.{b64encode_str(forged)}", key.public())


# -- weak keys ------------------------------------------------------------------------------------


def test_weak_rsa_only_through_hazmat() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = weak.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidKeyError):
        jwk.import_key(pem)
    keys = KeySet.from_dict({"keys": [{"kty": "RSA", "kid": "w", **_rsa_public(weak)}]})
    assert len(keys) == 0
    assert "2048" in keys.rejected[0][1]
    with pytest.raises(UsageError):
        jwk.generate("RSA", size=1024)
    key = hazmat.import_weak_key(pem, alg="RS256", kid="legacy")
    assert key.weak_allowed
    token = jwt.encode(CLAIMS, key)
    assert jwt.decode(token, key.public(), now=NOW) == CLAIMS
    public = hazmat.import_weak_key({"kty": "RSA", **_rsa_public(weak)}, alg="RS256")
    assert jwt.decode(token, public, now=NOW) == CLAIMS


def _rsa_public(key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "n": b64encode_str(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": b64encode_str(numbers.e.to_bytes(3, "big")),
    }


@pytest.mark.parametrize(("alg", "size"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_short_hmac_secret_only_through_hazmat(alg: str, size: int) -> None:
    short = OctKey.from_secret(b"s" * (size - 1), alg=alg)
    with pytest.raises(InvalidKeyError, match=f"at least {size} bytes"):
        jwt.encode(CLAIMS, short)
    with pytest.raises(InvalidKeyError):
        jwt.decode(jwt.encode(CLAIMS, OctKey(b"s" * size, alg=alg)), short, now=NOW)
    weak = hazmat.weak_secret(b"s" * (size - 1), alg=alg)
    assert jwt.decode(jwt.encode(CLAIMS, weak), weak, now=NOW) == CLAIMS
    assert jwt.encode(CLAIMS, OctKey.from_secret(b"s" * size, alg=alg))
    weak_jwk = {"kty": "oct", "k": b64encode_str(b"s" * (size - 1)), "alg": alg}
    assert hazmat.import_weak_key(weak_jwk).weak_allowed


# -- error messages -----------------------------------------------------------------------------


def _failures(secret: bytes) -> list[tuple[Any, ...]]:
    key = OctKey(secret, alg="HS256", kid="k")
    good = jwt.encode({**CLAIMS, "secret_claim": "hunter2-hunter2"}, key)
    head, body, sig = good.split(".")
    other = OctKey(b"o" * 32, alg="HS256", kid="k")
    return [
        (good, other, {}),
        (good, key, {"now": NOW + 61}),
        (good, key, {"now": NOW, "audience": "web", "issuer": "x"}),
        (good, key, {"now": NOW, "require": ("nonce",)}),
        (good, key, {"now": NOW, "typ": "other"}),
        (f"{head}.{body}.{sig[:-2]}AA", key, {"now": NOW}),
        (f"{head}.{body}x.{sig}", key, {"now": NOW}),
        (good + ".", key, {"now": NOW}),
        (good, KeySet([OctKey(secret, alg="HS256", kid="z")]), {"now": NOW}),
        (good, key, {"now": NOW, "algorithms": ["HS256", "HS512"]}),
        (good, OctKey(secret, kid="k"), {"now": NOW}),
    ]


def test_messages_never_contain_secrets_or_the_token() -> None:
    secret = b"S3cr3t-HMAC-key-that-is-32-bytes!"
    for token, keys, options in _failures(secret):
        with pytest.raises(JotError) as info:
            jwt.decode(token, keys, **options)
        for text in (str(info.value), repr(info.value)):
            assert secret.decode() not in text
            assert b64encode_str(secret) not in text
            assert token not in text
            for segment in token.split("."):
                assert len(segment) < 16 or segment not in text
            assert "hunter2" not in text


def test_key_errors_never_contain_key_material() -> None:
    data = private_key("ES256", bound=False).to_dict(private=True)
    for bad in ({**data, "d": data["x"]}, {**data, "crv": "P-384"}, {**data, "kty": data["d"]}):
        with pytest.raises(InvalidKeyError) as info:
            jwk.import_key(bad)
        assert data["d"] not in str(info.value)
        assert data["x"] not in str(info.value)


def test_hmac_comparison_is_constant_time() -> None:
    # The HMAC check must go through hmac.compare_digest, never ==.
    import inspect

    source = inspect.getsource(jwa.HMACAlgorithm.verify)
    assert "compare_digest" in source
    assert hmac.compare_digest(hashlib.sha256(b"a").digest(), hashlib.sha256(b"a").digest())


# -- one hierarchy: usage errors apart from bad tokens -------------------------------------


def test_usage_errors_and_token_errors_are_disjoint() -> None:
    assert not issubclass(UsageError, JoseError)
    assert not issubclass(InvalidTokenError, UsageError)
    assert issubclass(UsageError, JotError)
    assert issubclass(InvalidTokenError, JotError)
    assert issubclass(UsageError, TypeError)  # a programming mistake, as Python reports them
    token = jwt.encode(CLAIMS, private_key("HS256"))
    programming_mistakes = [
        lambda: jwt.decode(token, private_key("HS256", bound=False), now=NOW),  # no algorithms
        lambda: jwt.decode(token, private_key("ES256"), algorithms=["HS256"], now=NOW),
        lambda: jwt.decode(token, "a secret", algorithms=["HS256"], now=NOW),
        lambda: jwt.encode(CLAIMS, private_key("ES256").public()),
        lambda: jwt.encode(CLAIMS, private_key("HS256"), alg="RS256"),
    ]
    for mistake in programming_mistakes:
        with pytest.raises(UsageError):
            mistake()
    bad_tokens = [token[:-2], token + "x", "x.y.z", token.replace(".", "!", 1)]
    for bad in bad_tokens:
        with pytest.raises(InvalidTokenError):
            jwt.decode(bad, private_key("HS256"), now=NOW)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_disguised_key_encodings_never_become_hmac_secrets(alg: str) -> None:
    key = private_key(alg, bound=False)
    pem = key.public().to_pem()
    body = b"".join(pem.splitlines()[1:-1])  # the PEM without its armor
    ssh = key.crypto_key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    for disguised in (
        body,
        pem.replace(b"\n", b"\r\n"),
        b"Bag Attributes\n    friendlyName: key\n" + pem,
        b"# the server's key\n" + pem,
        b'from="10.0.0.0/8",no-pty ' + ssh + b" user@host",
        b"\n".join(body[i : i + 64] for i in range(0, len(body), 64)),
        b"".join(key.to_pem(private=True).splitlines()[1:-1]),
    ):
        with pytest.raises(InvalidKeyError):
            OctKey.from_secret(disguised)


@pytest.mark.parametrize(
    "secret",
    [
        b"M" * 40,
        b"My secret, with punctuation!",
        b"MIIBIjANBgkq" + b"A" * 20,
        b"my shared secret that is long enough",
        b"0" * 32,
        b"\x30\x82" + bytes(range(30)),
    ],
)
def test_ordinary_secrets_are_still_accepted(secret: bytes) -> None:
    assert OctKey.from_secret(secret).crypto_key == secret


def test_der_of_an_unsupported_key_type_is_still_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.exceptions import UnsupportedAlgorithm

    def unsupported(data: bytes) -> None:
        raise UnsupportedAlgorithm("odd key type")

    monkeypatch.setattr(serialization, "load_der_public_key", unsupported)
    with pytest.raises(InvalidKeyError):
        OctKey.from_secret(private_key("ES256", bound=False).public().to_der())
