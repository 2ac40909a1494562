"""Published test vectors: RFC 7515 A, RFC 7517 A/B, RFC 7638, RFC 7797, RFC 8037, RFC 7520.

Deterministic algorithms (HMAC, RSA PKCS #1 v1.5, Ed25519) are re-signed byte for byte;
randomized ones (ECDSA, PSS) are checked by verification.
"""

from __future__ import annotations

from typing import Any

import pytest

from jot.jose import KeySet, jwa, jwk, jws, jwt
from jot.jose._b64 import b64decode, b64encode_str
from jot.jose.errors import BadSignatureError, ExpiredTokenError, UnsupportedHeaderError
from jot.jose.jwk import Key

from .helpers import load_vectors, vector

RFC7515 = load_vectors("rfc7515/*.json")
COOKBOOK_JWS = load_vectors("jose-cookbook/jws/4_[1-7]*.json") + load_vectors(
    "jose-cookbook/curve25519/jws.json"
)
COOKBOOK_KEYS = load_vectors("jose-cookbook/jwk/*.json")


def _verifier(key: Key) -> Key:
    return key if isinstance(key, jwk.OctKey) else key.public()


# -- RFC 7515 appendix A -----------------------------------------------------------------


@pytest.mark.parametrize("v", RFC7515)
def test_rfc7515_appendix_a_verifies(v: dict[str, Any]) -> None:
    key = _verifier(jwk.import_key(v["key"]))
    verified = jws.verify_compact(v["compact"], key, algorithms=[v["alg"]])
    assert verified.payload == b64decode(v["payload_b64u"])
    assert dict(verified.header) == {
        "alg": v["alg"],
        **({"typ": "JWT"} if "typ" in v["protected"] else {}),
    }


@pytest.mark.parametrize("v", RFC7515)
def test_rfc7515_appendix_a_resigns(v: dict[str, Any]) -> None:
    key = jwk.import_key(v["key"])
    signing_input = f"{v['protected_b64u']}.{v['payload_b64u']}".encode()
    algorithm = jwa.get_algorithm(v["alg"])
    signature = algorithm.sign(key, signing_input)
    if v["deterministic"]:
        assert b64encode_str(signature) == v["signature_b64u"]
    else:
        assert algorithm.verify(key, signing_input, signature)


def test_rfc7515_a1_is_a_jwt_that_expired_in_2011() -> None:
    v = vector("rfc7515/A_1.hs256.json")
    key = jwk.import_key(v["key"])
    claims = jwt.decode(v["compact"], key, algorithms=["HS256"], now=1300819379)
    assert claims == {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
    with pytest.raises(ExpiredTokenError):
        jwt.decode(v["compact"], key, algorithms=["HS256"], now=1300819380)


@pytest.mark.parametrize("v", RFC7515)
def test_rfc7515_appendix_a_tampered_signature_fails(v: dict[str, Any]) -> None:
    key = _verifier(jwk.import_key(v["key"]))
    head, payload, signature = v["compact"].split(".")
    forged = bytearray(b64decode(signature))
    forged[len(forged) // 2] ^= 1
    with pytest.raises(BadSignatureError):
        jws.verify_compact(
            f"{head}.{payload}.{b64encode_str(bytes(forged))}", key, algorithms=[v["alg"]]
        )


# -- RFC 7517 appendix A and B, RFC 7638 §3.1 ---------------------------------------------


@pytest.mark.parametrize("name", ["A_1.public_keys", "A_2.private_keys", "A_3.symmetric_keys"])
def test_rfc7517_appendix_a_key_sets_load_and_round_trip(name: str) -> None:
    jwks = vector(f"rfc7517/{name}.json")["jwks"]
    keys = KeySet.from_dict(jwks)
    assert keys.rejected == ()
    assert len(keys) == len(jwks["keys"])
    for key, original in zip(keys, jwks["keys"], strict=True):
        assert key.to_dict(private=key.is_private) == original


def test_rfc7517_appendix_a1_thumbprints() -> None:
    keys = KeySet.from_dict(vector("rfc7517/A_1.public_keys.json")["jwks"])
    assert keys.get("1").curve == "P-256"
    assert keys.get("1").use == "enc"
    assert keys.get("2011-04-29").alg == "RS256"


def test_rfc7517_appendix_a2_private_matches_public() -> None:
    public = KeySet.from_dict(vector("rfc7517/A_1.public_keys.json")["jwks"])
    private = KeySet.from_dict(vector("rfc7517/A_2.private_keys.json")["jwks"])
    for kid in ("1", "2011-04-29"):
        assert private.get(kid).public() == public.get(kid)
        assert private.get(kid).thumbprint() == public.get(kid).thumbprint()


def test_rfc7517_appendix_b_x5c_key_loads_without_trusting_x5c() -> None:
    data = vector("rfc7517/B.x5c.json")["jwk"]
    key = jwk.import_key(data)
    assert key.kty == "RSA"
    assert key.kid == "1b94c"
    assert key.use == "sig"
    # x5c is informational: it is not kept and never used to choose or build a key.
    assert "x5c" not in key.to_dict()


def test_rfc7517_appendix_c1_rsa_private_key() -> None:
    data = vector("rfc7517/C_1.rsa_private_key.json")["jwk"]
    key = jwk.import_key(data)
    assert key.is_private
    assert key.to_dict(private=True) == data


def test_rfc7638_section_3_1_thumbprint() -> None:
    v = vector("rfc7638/3_1.thumbprint.json")
    key = jwk.import_key(v["jwk"])
    assert key.thumbprint() == v["thumbprint"]
    assert key.thumbprint_uri() == v["thumbprint_uri"]


# -- RFC 8037 appendix A -------------------------------------------------------------------


def test_rfc8037_appendix_a_ed25519() -> None:
    v = vector("rfc8037/A.ed25519.json")
    private = jwk.import_key(v["private_key"])
    public = jwk.import_key(v["public_key"])
    assert private.public() == public
    assert public.thumbprint() == v["thumbprint"]  # A.3
    token = jws.sign_compact(v["payload"].encode(), private, alg="EdDSA")  # A.4
    assert token == v["compact"]
    verified = jws.verify_compact(v["compact"], public, algorithms=["EdDSA"])  # A.5
    assert verified.payload == v["payload"].encode()
    assert dict(verified.header) == v["protected"]


# -- RFC 7797 --------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1], ids=["4.1", "4.2"])
def test_rfc7797_section_4(index: int) -> None:
    v = vector("rfc7797/4.unencoded_payload.json")
    example = v["examples"][index]
    key = jwk.import_key(v["key"])
    payload = v["payload"].encode()
    b64 = example["protected"].get("b64", True)
    token = jws.sign_compact(payload, key, alg="HS256", b64=b64, detached=example["detached"])
    assert token == example["compact"]
    detached = payload if example["detached"] else None
    verified = jws.verify_compact(token, key, algorithms=["HS256"], detached_payload=detached)
    assert verified.payload == payload
    assert dict(verified.header) == example["protected"]


def test_rfc7797_42_without_detached_payload_does_not_verify() -> None:
    v = vector("rfc7797/4.unencoded_payload.json")
    key = jwk.import_key(v["key"])
    with pytest.raises(BadSignatureError):
        jws.verify_compact(v["examples"][1]["compact"], key, algorithms=["HS256"])


def test_cookbook_rfc7797_compact_compatible_outputs_verify() -> None:
    v = vector("jose-cookbook/rfc7797/hmac-sha2_b64_false.json")
    key = jwk.import_key(v["input"]["key"])
    payload = v["input"]["payload"].encode()
    out = v["output"]
    assert jws.verify_compact(out["compact"], key, algorithms=["HS256"]).payload == payload
    assert jws.verify_json(out["json"], key, algorithms=["HS256"]).payload == payload
    assert jws.verify_json(out["json_flat"], key, algorithms=["HS256"]).payload == payload
    # jot writes the header as alg, b64, crit (and the key's kid, so sign with none).
    unnamed = jwk.import_key({k: x for k, x in v["input"]["key"].items() if k != "kid"})
    assert jws.sign_compact(payload, unnamed, alg="HS256", b64=False) == out["compact"]


@pytest.mark.parametrize("form", ["json", "json_flat"])
def test_cookbook_rfc7797_42_without_crit_is_rejected(form: str) -> None:
    # Its protected header is {"alg":"HS256","b64":false}: b64 outside crit (RFC 7797 §6).
    v = vector("jose-cookbook/rfc7797/4.2.hmac-sha2_b64_false.json")
    key = jwk.import_key(v["input"]["key"])
    with pytest.raises(UnsupportedHeaderError):
        jws.verify_json(v["output"][form], key, algorithms=["HS256"])


# -- RFC 7520 (JOSE cookbook) §3–4 -----------------------------------------------------------


@pytest.mark.parametrize("data", COOKBOOK_KEYS)
def test_cookbook_keys_load_and_round_trip(data: dict[str, Any]) -> None:
    key = jwk.import_key(data)
    assert key.to_dict(private=key.is_private) == data
    if key.is_private and key.kty != "oct":
        assert key.public().to_dict() == {k: v for k, v in data.items() if k not in _PRIVATE}


_PRIVATE = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.mark.parametrize("v", COOKBOOK_JWS)
def test_cookbook_outputs_verify(v: dict[str, Any]) -> None:
    key = _verifier(jwk.import_key(v["input"]["key"]))
    payload = v["input"]["payload"].encode()
    alg = [v["input"]["alg"]]
    detached = None if "payload" in v["output"]["json"] else payload  # 4.5: detached content
    out = v["output"]
    if "compact" in out:
        verified = jws.verify_compact(
            out["compact"], key, algorithms=alg, detached_payload=detached
        )
        assert verified.payload == payload
    for form in ("json", "json_flat"):
        verified = jws.verify_json(out[form], key, algorithms=alg, detached_payload=detached)
        assert verified.payload == payload
        assert verified.key is key


@pytest.mark.parametrize("v", [p for p in COOKBOOK_JWS if p.values[0].get("reproducible")])
def test_cookbook_deterministic_signatures_resign_byte_for_byte(v: dict[str, Any]) -> None:
    key = jwk.import_key(v["input"]["key"])
    signing = v["signing"]
    algorithm = jwa.get_algorithm(v["input"]["alg"])
    assert b64encode_str(algorithm.sign(key, signing["sig-input"].encode())) == signing["sig"]
    payload = v["input"]["payload"].encode()
    protected = signing.get("protected")
    unprotected = signing.get("unprotected", {})
    if protected is None:
        return  # 4.7 has no protected header; jot always protects alg.
    detached = "payload" not in v["output"]["json"]
    if "compact" in v["output"] and not unprotected:
        token = jws.sign_compact(payload, key, alg=protected["alg"], detached=detached)
        assert token == v["output"]["compact"]
    signer_key = key
    if unprotected:  # The kid is in the unprotected header only.
        signer_key = jwk.import_key({k: x for k, x in v["input"]["key"].items() if k != "kid"})
    signer = jws.Signer(signer_key, alg=protected["alg"], header=unprotected)
    assert (
        jws.sign_json(payload, [signer], flatten=True, detached=detached)
        == v["output"]["json_flat"]
    )
    assert jws.sign_json(payload, [signer], detached=detached) == v["output"]["json"]


def test_cookbook_multiple_signatures() -> None:
    v = vector("jose-cookbook/jws/4_8.multiple_signatures.json")
    payload = v["input"]["payload"].encode()
    keys = [jwk.import_key(k) for k in v["input"]["key"]]
    for key, alg, signing in zip(keys, v["input"]["alg"], v["signing"], strict=True):
        verified = jws.verify_json(v["output"]["json"], _verifier(key), algorithms=[alg])
        assert verified.payload == payload
        assert verified.header["alg"] == alg
        if alg != "ES512":
            algorithm = jwa.get_algorithm(alg)
            assert (
                b64encode_str(algorithm.sign(key, signing["sig-input"].encode())) == signing["sig"]
            )
    keyset = KeySet([_verifier(k) for k in keys], allow_mixed=True)
    verified = jws.verify_json(v["output"]["json"], keyset, algorithms=v["input"]["alg"])
    assert verified.payload == payload
