"""JSON Web Signature: compact and JSON serializations, RFC 7797, detached content, crit."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from jot.jose import KeySet, jwk, jws
from jot.jose._b64 import b64decode, b64encode_str
from jot.jose.errors import (
    BadSignatureError,
    InvalidKeyError,
    KeyNotFoundError,
    MalformedTokenError,
    UnsupportedAlgorithmError,
    UnsupportedHeaderError,
    UsageError,
)
from jot.jose.hazmat import decode_unverified, weak_secret

from .helpers import ALGORITHMS, private_key


def _public(alg: str) -> jwk.Key:
    key = private_key(alg)
    return key if isinstance(key, jwk.OctKey) else key.public()


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_compact_round_trip_every_algorithm(alg: str) -> None:
    key = private_key(alg)
    token = jws.sign_compact(b"hello", key)
    header = decode_unverified(token).header
    assert header == {"alg": alg, "kid": key.kid}
    verified = jws.verify_compact(token, _public(alg))
    assert verified.payload == b"hello"
    assert dict(verified.header) == header
    assert jws.verify_compact(token.encode(), KeySet([_public(alg)])).payload == b"hello"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_json_round_trip_every_algorithm(alg: str) -> None:
    key = private_key(alg)
    general = jws.sign_json(b"hello", [jws.Signer(key)])
    flat = jws.sign_json(b"hello", [jws.Signer(key)], flatten=True)
    assert set(flat) == {"payload", "protected", "signature"}
    for obj in (general, flat, json.dumps(general), json.dumps(flat).encode()):
        assert jws.verify_json(obj, _public(alg)).payload == b"hello"


def test_default_algorithm_of_unbound_keys() -> None:
    natural = {"HS256": "HS256", "RS256": "RS256", "ES384": "ES384", "ES512": "ES512",
               "ES256K": "ES256K", "Ed448": "EdDSA"}  # fmt: skip
    for alg, expected in natural.items():
        token = jws.sign_compact(b"x", private_key(alg, bound=False))
        assert decode_unverified(token).header["alg"] == expected
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", jwk.generate("X25519"))


def test_extra_headers_cannot_override_alg() -> None:
    key = private_key("HS256")
    token = jws.sign_compact(b"x", key, headers={"alg": "none", "typ": "t", "cty": "c"})
    assert decode_unverified(token).header == {
        "alg": "HS256",
        "kid": key.kid,
        "typ": "t",
        "cty": "c",
    }


def test_header_values_of_equal_hash_are_not_confused() -> None:
    # True == 1 in Python; a header cache keyed on values alone would mix them up.
    key = private_key("HS256")
    one = decode_unverified(jws.sign_compact(b"x", key, headers={"v": 1})).header["v"]
    true = decode_unverified(jws.sign_compact(b"x", key, headers={"v": True})).header["v"]
    assert (one, true) == (1, True)
    assert type(true) is bool


def test_signing_refuses() -> None:
    key = private_key("ES256")
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", key.public())
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", key.to_dict(private=True))  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", key, alg="RS256")
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", key, alg="ES384")  # a P-256 key bound to ES256
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", key, alg="none")
    enc = jwk.import_key({**key.to_dict(private=True), "use": "enc"})
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", enc)
    verify_only = jwk.import_key({**key.to_dict(private=True), "key_ops": ["verify"]})
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", verify_only)
    with pytest.raises(UsageError):
        jws.sign_json(b"x", [])
    with pytest.raises(UsageError):
        jws.sign_json(b"x", [jws.Signer(key), jws.Signer(key)], flatten=True)


# -- detached content and RFC 7797 ----------------------------------------------------------


def test_detached_compact() -> None:
    key = private_key("HS256")
    token = jws.sign_compact(b"content", key, detached=True)
    assert token.split(".")[1] == ""
    assert jws.verify_compact(token, key, detached_payload=b"content").payload == b"content"
    with pytest.raises(BadSignatureError):
        jws.verify_compact(token, key, detached_payload=b"other")
    with pytest.raises(BadSignatureError):
        jws.verify_compact(token, key)
    attached = jws.sign_compact(b"content", key)
    with pytest.raises(MalformedTokenError):
        jws.verify_compact(attached, key, detached_payload=b"content")


def test_detached_json() -> None:
    key = private_key("ES256")
    obj = jws.sign_json(b"content", [jws.Signer(key)], detached=True)
    assert "payload" not in obj
    assert jws.verify_json(obj, key.public(), detached_payload=b"content").payload == b"content"
    with pytest.raises(BadSignatureError):
        jws.verify_json(obj, key.public(), detached_payload=b"other")
    with pytest.raises(MalformedTokenError):
        jws.verify_json(obj, key.public())
    with pytest.raises(MalformedTokenError):
        jws.verify_json({**obj, "payload": "Y29udGVudA"}, key.public(), detached_payload=b"content")


@pytest.mark.parametrize("detached", [False, True])
def test_unencoded_payload_compact(detached: bool) -> None:
    key = private_key("HS256")
    token = jws.sign_compact(b"$.02" if detached else b"$02 ok", key, b64=False, detached=detached)
    header = decode_unverified(token).header
    assert header["b64"] is False
    assert header["crit"] == ["b64"]
    payload = b"$.02" if detached else b"$02 ok"
    verified = jws.verify_compact(token, key, detached_payload=payload if detached else None)
    assert verified.payload == payload


def test_unencoded_payload_json() -> None:
    key = private_key("ES256")
    obj = jws.sign_json(b"a.b", [jws.Signer(key, protected={"crit": ["x"], "x": 1})], b64=False)
    assert obj["payload"] == "a.b"
    assert jws.verify_json(obj, key.public(), crit=["x"]).payload == b"a.b"
    with pytest.raises(UnsupportedHeaderError):
        jws.verify_json(obj, key.public())


def test_unencoded_compact_payload_with_a_dot_is_refused() -> None:
    with pytest.raises(UsageError):
        jws.sign_compact(b"a.b", private_key("HS256"), b64=False)


def test_unencoded_payload_must_be_text() -> None:
    key = private_key("HS256")
    with pytest.raises(UsageError):
        jws.sign_compact(b"\xff\xfe", key, b64=False)
    with pytest.raises(UsageError):
        jws.sign_json(b"\xff\xfe", [jws.Signer(key)], b64=False)
    # Detached, the payload is never written out: any bytes will do.
    obj = jws.sign_json(b"\xff\xfe", [jws.Signer(key)], b64=False, detached=True)
    assert jws.verify_json(obj, key, detached_payload=b"\xff\xfe").payload == b"\xff\xfe"
    token = jws.sign_compact(b"\xff.\xfe", key, b64=False, detached=True)
    assert jws.verify_compact(token, key, detached_payload=b"\xff.\xfe").payload == b"\xff.\xfe"


# -- JSON serialization details ----------------------------------------------------------------


def test_general_json_several_signers() -> None:
    a, b = private_key("ES256"), private_key("EdDSA")
    hmac_key = private_key("HS256")
    obj = jws.sign_json(
        b"payload",
        [jws.Signer(a), jws.Signer(b, header={"kid": "unprotected-kid"}), jws.Signer(hmac_key)],
    )
    assert len(obj["signatures"]) == 3
    assert obj["signatures"][1]["header"] == {"kid": "unprotected-kid"}
    assert "kid" not in json.loads(b64decode(obj["signatures"][1]["protected"]))
    for key in (a.public(), hmac_key):
        verified = jws.verify_json(obj, key)
        assert verified.key is key
    b_public = jwk.import_key(b.public().to_dict(), kid="unprotected-kid")
    assert jws.verify_json(obj, KeySet([b_public]), algorithms=["EdDSA"]).key is b_public
    with pytest.raises(KeyNotFoundError):
        jws.verify_json(obj, KeySet([private_key("ES384").public()]), algorithms=["ES256", "HS256"])
    with pytest.raises(UnsupportedAlgorithmError):
        jws.verify_json(obj, private_key("RS256").public())


def test_json_one_bad_signature_with_a_matching_key_fails() -> None:
    key = private_key("ES256")
    obj = jws.sign_json(b"p", [jws.Signer(key), jws.Signer(private_key("EdDSA"))])
    obj["signatures"][0]["signature"] = obj["signatures"][1]["signature"][:86]
    with pytest.raises(BadSignatureError):
        jws.verify_json(obj, key.public())


def _entry(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    entry = {**obj["signatures"][0], **changes}
    return {**obj, "signatures": [{k: v for k, v in entry.items() if v is not None}]}


BAD_JSON: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "both forms": lambda o: {**o, "signature": "x"},
    "signatures not a list": lambda o: {**o, "signatures": {}},
    "signatures empty": lambda o: {**o, "signatures": []},
    "signature not an object": lambda o: {**o, "signatures": ["x"]},
    "protected not a string": lambda o: _entry(o, protected=1),
    "header not an object": lambda o: _entry(o, header=[]),
    "header repeats protected": lambda o: _entry(o, header={"alg": "ES256"}),
    "crit unprotected": lambda o: _entry(o, header={"crit": ["x"]}),
    "b64 unprotected": lambda o: _entry(o, header={"b64": True}),
    "signature missing": lambda o: _entry(o, signature=None),
    "payload not a string": lambda o: {**o, "payload": 1},
    "protected not base64url": lambda o: _entry(o, protected="e30="),
}


@pytest.mark.parametrize("change", list(BAD_JSON.values()), ids=list(BAD_JSON))
def test_malformed_json_serialization(change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    key = private_key("ES256")
    obj = jws.sign_json(b"p", [jws.Signer(key)])
    with pytest.raises(MalformedTokenError):
        jws.verify_json(change(obj), key.public())


def test_json_serialization_limits_and_types() -> None:
    key = private_key("ES256")
    text = json.dumps(jws.sign_json(b"p", [jws.Signer(key)]))
    with pytest.raises(MalformedTokenError):
        jws.verify_json(text, key.public(), max_size=len(text) - 1)
    with pytest.raises(MalformedTokenError):
        jws.verify_json("[]", key.public())
    with pytest.raises(UsageError):
        jws.verify_json(42, key.public())  # type: ignore[arg-type]


def test_sign_json_refuses_a_parameter_in_both_headers() -> None:
    key = private_key("ES256")
    with pytest.raises(MalformedTokenError):
        jws.sign_json(b"p", [jws.Signer(key, protected={"typ": "a"}, header={"typ": "b"})])


# -- crit -------------------------------------------------------------------------------------


def test_crit_understood_by_the_caller() -> None:
    key = private_key("HS256")
    token = jws.sign_compact(b"x", key, headers={"crit": ["exp"], "exp": 1})
    with pytest.raises(UnsupportedHeaderError):
        jws.verify_compact(token, key)
    assert jws.verify_compact(token, key, crit=["exp"]).payload == b"x"


@pytest.mark.parametrize(
    "crit",
    [[], "b64", [1], [""], ["x", "x"], ["alg"], ["kid"], ["missing"], {"x": 1}],
    ids=[
        "empty",
        "string",
        "non-string",
        "empty-name",
        "duplicate",
        "alg",
        "kid",
        "absent",
        "object",
    ],
)
def test_malformed_crit(crit: object) -> None:
    key = private_key("HS256")
    token = jws.sign_compact(b"x", key, headers={"crit": crit, "x": 1})
    with pytest.raises(MalformedTokenError):
        jws.verify_compact(token, key, crit=["x", "missing", "alg", "kid"])


# -- key selection -----------------------------------------------------------------------------


def test_keyset_without_kid() -> None:
    data = private_key("ES256", bound=False).to_dict(private=True)
    key = jwk.import_key({k: v for k, v in data.items() if k != "kid"})
    token = jws.sign_compact(b"x", key, alg="ES256")
    assert "kid" not in decode_unverified(token).header
    single = KeySet([key.public(), private_key("EdDSA").public()])
    assert jws.verify_compact(token, single, algorithms=["ES256", "EdDSA"]).payload == b"x"
    two = KeySet([key.public(), private_key("ES256").public()])
    with pytest.raises(KeyNotFoundError):
        jws.verify_compact(token, two, algorithms=["ES256"])


def test_keyset_key_must_fit_the_token() -> None:
    es256 = private_key("ES256")
    token = jws.sign_compact(b"x", es256)
    kid = es256.kid
    cases = {
        "bound to another alg": jwk.import_key(private_key("ES384").public().to_dict(), kid=kid),
        "not for signatures": jwk.import_key({**es256.public().to_dict(), "use": "enc"}),
        "no verify op": jwk.import_key({**es256.public().to_dict(), "key_ops": ["encrypt"]}),
        "wrong curve": jwk.import_key(
            {k: v for k, v in private_key("ES384").public().to_dict().items() if k != "alg"},
            kid=kid,
        ),
    }
    for name, key in cases.items():
        with pytest.raises(KeyNotFoundError):
            jws.verify_compact(token, KeySet([key]), algorithms=["ES256"])
        assert name


def test_single_key_not_for_verifying_is_a_usage_error() -> None:
    key = private_key("ES256")
    token = jws.sign_compact(b"x", key)
    for data in ({"use": "enc"}, {"key_ops": ["sign"]}):
        wrong = jwk.import_key({**key.public().to_dict(), **data})
        with pytest.raises(UsageError):
            jws.verify_compact(token, wrong)


def test_short_hmac_key_in_a_keyset() -> None:
    weak = jwk.import_key({"kty": "oct", "k": b64encode_str(b"k" * 16), "kid": "w"})
    token_key = jwk.import_key({"kty": "oct", "k": b64encode_str(b"k" * 16), "kid": "w"})
    token = jws.sign_compact(b"x", weak_secret(b"k" * 16, kid="w"), alg="HS256")
    with pytest.raises(InvalidKeyError):
        jws.verify_compact(token, KeySet([weak]), algorithms=["HS256"])
    assert token_key.kid == "w"


def test_algorithms_argument() -> None:
    key = private_key("HS512", bound=False)  # 64 bytes: long enough for every HMAC
    token = jws.sign_compact(b"x", key)
    with pytest.raises(UsageError):
        jws.verify_compact(token, key)  # unbound key, no algorithms
    with pytest.raises(UsageError):
        jws.verify_compact(token, key, algorithms=[])
    with pytest.raises(UsageError):
        jws.verify_compact(token, key, algorithms="HS256")
    with pytest.raises(UsageError):
        jws.verify_compact(token, key, algorithms=["HS256", "XS999"])
    with pytest.raises(UsageError):
        jws.verify_compact(token, KeySet([]))
    with pytest.raises(UsageError):
        jws.verify_compact(token, KeySet([key]))
    with pytest.raises(UnsupportedAlgorithmError):
        jws.verify_compact(token, key, algorithms=["HS512"])
    assert jws.verify_compact(token, key, algorithms=["HS256", "HS512"]).payload == b"x"
    with pytest.raises(UsageError):
        jws.verify_compact(42, key, algorithms=["HS256"])  # type: ignore[arg-type]


@pytest.mark.parametrize("keys", ["secret", b"secret", {"kty": "oct"}, None, 42], ids=repr)
def test_keys_must_be_a_key_or_keyset(keys: object) -> None:
    token = jws.sign_compact(b"x", private_key("HS256"))
    with pytest.raises(UsageError):
        jws.verify_compact(token, keys, algorithms=["HS256"])  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        jws.verify_json(
            jws.sign_json(b"x", [jws.Signer(private_key("HS256"))]), keys, algorithms=["HS256"]
        )  # type: ignore[arg-type]


def test_header_of_a_verified_token_is_read_only() -> None:
    key = private_key("HS256")
    verified = jws.verify_compact(jws.sign_compact(b"x", key), key)
    with pytest.raises(TypeError):
        verified.header["alg"] = "none"  # type: ignore[index]


def test_header_cache_survives_many_headers() -> None:
    key = private_key("HS256")
    for i in range(300):
        token = jws.sign_compact(b"x", key, headers={"n": i})
        assert jws.verify_compact(token, key).header["n"] == i


def test_keyset_with_encryption_keys_and_no_algorithms() -> None:
    # An authority's JWKS may hold encryption keys too; they must not break verification.
    signing = private_key("ES256")
    token = jws.sign_compact(b"x", signing)
    enc_bound = jwk.import_key(private_key("RS256", bound=False).crypto_key, alg="RSA-OAEP")
    enc_use = jwk.import_key(jwk.generate("X25519").crypto_key, use="enc")
    keys = KeySet([enc_bound.public(), signing.public(), enc_use.public()])
    assert jws.verify_compact(token, keys).payload == b"x"
    with pytest.raises(UsageError):
        jws.verify_compact(token, KeySet([enc_bound.public(), enc_use.public()]))
    with pytest.raises(UsageError):
        jws.verify_compact(token, enc_bound.public())


def test_keyset_without_kid_picks_the_one_key_that_fits() -> None:
    # Keys of the same type but another curve or use are not candidates.
    def unnamed(key: jwk.Key) -> jwk.Key:
        return jwk.import_key({k: v for k, v in key.public().to_dict().items() if k != "kid"})

    p256 = jwk.import_key(private_key("ES256", bound=False).crypto_key)
    token = jws.sign_compact(b"x", p256, alg="ES256")
    keys = KeySet([unnamed(private_key("ES384", bound=False)), unnamed(p256)])
    assert jws.verify_compact(token, keys, algorithms=["ES256", "ES384"]).payload == b"x"
    ed = jwk.import_key(private_key("EdDSA", bound=False).crypto_key)
    token = jws.sign_compact(b"x", ed, alg="EdDSA")
    keys = KeySet(
        [unnamed(jwk.generate("X25519")), unnamed(ed), unnamed(private_key("Ed448", bound=False))]
    )
    with pytest.raises(KeyNotFoundError):  # Ed25519 and Ed448 both fit "EdDSA"
        jws.verify_compact(token, keys, algorithms=["EdDSA"])
    assert jws.verify_compact(token, KeySet(list(keys)[:2]), algorithms=["EdDSA"]).payload == b"x"
    sig_and_enc = KeySet([unnamed(p256), jwk.import_key({**unnamed(p256).to_dict(), "use": "enc"})])
    assert (
        jws.verify_compact(
            jws.sign_compact(b"x", p256, alg="ES256"), sig_and_enc, algorithms=["ES256"]
        ).payload
        == b"x"
    )
    weak = jwk.OctKey(b"k" * 16)
    token = jws.sign_compact(b"x", weak_secret(b"k" * 16), alg="HS256")
    with pytest.raises(InvalidKeyError):  # the one candidate is too weak: said so
        jws.verify_compact(
            token, KeySet([weak, unnamed(p256)], allow_mixed=True), algorithms=["HS256", "ES256"]
        )


def test_signing_headers_b64_and_none() -> None:
    key = private_key("HS256")
    for b64 in (False, True):
        with pytest.raises(UsageError):
            jws.sign_compact(b"x", key, headers={"b64": b64})
        with pytest.raises(UsageError):
            jws.sign_json(b"x", [jws.Signer(key, protected={"b64": b64})])
    token = jws.sign_compact(b"x", key, headers={"kid": None, "typ": None, "cty": "c"})
    assert decode_unverified(token).header == {"alg": "HS256", "cty": "c"}
    assert jws.verify_compact(token, KeySet([key])).payload == b"x"


def test_a_kid_that_keys_share_selects_none() -> None:
    # RFC 7517 §4.5 allows keys of different types to share a kid; jot refuses to choose
    # between them (another verifier might choose differently), whichever the token needs.
    rsa_key = jwk.import_key(private_key("RS256", bound=False).crypto_key, kid="2026")
    ec_key = jwk.import_key(private_key("ES256", bound=False).crypto_key, kid="2026")
    keys = KeySet([rsa_key.public(), ec_key.public()])
    for key, alg in ((rsa_key, "RS256"), (ec_key, "ES256")):
        token = jws.sign_compact(b"x", key, alg=alg)
        with pytest.raises(KeyNotFoundError, match="more than one key"):
            jws.verify_compact(token, keys, algorithms=["RS256", "ES256"])
    ed = jwk.import_key(jwk.generate("Ed25519").crypto_key, kid="2026")
    with pytest.raises(KeyNotFoundError):
        jws.verify_compact(jws.sign_compact(b"x", ed, alg="EdDSA"), keys, algorithms=["EdDSA"])
