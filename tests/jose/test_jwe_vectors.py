"""JWE against published vectors: RFC 7516 appendix A, RFC 7518 appendices B and C, RFC 8037
appendix A.6 and the RFC 7520 cookbook (§5.1–5.13 and the §6 nesting example)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519

from jot.jose import jwe, jwt
from jot.jose._b64 import b64decode, b64encode_str
from jot.jose._jwe.content import CONTENT_ENCRYPTIONS
from jot.jose._jwe.ecdh import ECDHES
from jot.jose._jwe.keys import Entropy
from jot.jose._jwe.sealing import seal
from jot.jose._keyio import from_jwk
from jot.jose.hazmat import RSA1_5
from jot.jose.jwk import KeySet, OctKey, import_key

from .jwe_support import COOKBOOK, FixedEntropy, alg_object, load

RFC7516 = load("jwe-rfc/rfc7516-appendix-a.json")
RFC7518 = load("jwe-rfc/rfc7518-appendix-b-c.json")
RFC8037 = load("jwe-rfc/rfc8037-appendix-a6.json")
COOKBOOK_FILES = sorted((COOKBOOK / "jwe").glob("*.json"), key=lambda p: p.name)


# -- RFC 7516 appendix A -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["A.1", "A.2", "A.3"])
def test_rfc7516_compact_decrypts(name: str) -> None:
    case = RFC7516[name]
    key = from_jwk(case["key"])
    opened = jwe.decrypt_compact(case["compact"], key, algorithms=[alg_object(case["alg"])])
    assert opened.plaintext == case["plaintext"].encode()
    assert opened.header == {"alg": case["alg"], "enc": case["enc"]}


@pytest.mark.parametrize("name", ["A.1", "A.2", "A.3"])
def test_rfc7516_content_reproduced(name: str) -> None:
    # Key encryption with RSA is randomized; with A128KW the whole token is reproducible.
    case = RFC7516[name]
    key = from_jwk(case["key"])
    entropy = FixedEntropy({"cek": bytes.fromhex(case["cek"]), "iv": bytes.fromhex(case["iv"])})
    recipient = jwe.Recipient(key.public() if case["alg"] != "A128KW" else key,
                              alg_object(case["alg"]))  # fmt: skip
    sealed = seal(
        case["plaintext"].encode(), [recipient], case["enc"],
        {"alg": None, "enc": case["enc"]}, {}, None, None, entropy,
    )  # fmt: skip
    expected = case["compact"].split(".")
    produced = sealed.compact().split(".")
    assert [produced[i] for i in (0, 2, 3, 4)] == [expected[i] for i in (0, 2, 3, 4)]
    if case["alg"] == "A128KW":
        assert produced == expected


def test_rfc7516_general_json_a4() -> None:
    case = RFC7516["A.4"]
    keys = KeySet((from_jwk(jwk_) for jwk_ in case["keys"]), allow_mixed=True)
    for alg in ("A128KW", RSA1_5):
        opened = jwe.decrypt_json(case["json"], keys, algorithms=[alg])
        assert opened.plaintext == case["plaintext"].encode()
        assert opened.header["jku"] == "https://server.example.com/keys.jwks"


def test_rfc7516_flattened_json_a5() -> None:
    case = RFC7516["A.5"]
    opened = jwe.decrypt_json(case["json"], from_jwk(case["key"]), algorithms=["A128KW"])
    assert opened.plaintext == case["plaintext"].encode()
    assert opened.header["kid"] == "7"


# -- RFC 7518 appendices B and C, RFC 8037 appendix A.6 ---------------------------------


@pytest.mark.parametrize("case", RFC7518["B"], ids=lambda case: case["enc"])
def test_rfc7518_cbc_hmac(case: dict[str, str]) -> None:
    enc = CONTENT_ENCRYPTIONS[case["enc"]]
    key, plaintext, iv, aad = (bytes.fromhex(case[n]) for n in ("key", "plaintext", "iv", "aad"))
    ciphertext, tag = enc.encrypt(key, iv, plaintext, aad)
    assert ciphertext.hex() == case["ciphertext"]
    assert tag.hex() == case["tag"]
    assert enc.decrypt(key, iv, ciphertext, tag, aad) == plaintext


def test_rfc7518_ecdh_es_key_agreement() -> None:
    case = RFC7518["C"]
    bob = from_jwk(case["recipient"])
    alice = from_jwk(case["ephemeral"])
    enc = CONTENT_ENCRYPTIONS[case["enc"]]
    header: dict[str, Any] = {"apu": case["apu"], "apv": case["apv"]}
    algorithm = ECDHES("ECDH-ES", None)
    # The sender's side, with Alice's "ephemeral" key fixed as in the RFC ...
    cek, encrypted_key = algorithm.wrap(bob.public(), enc, None, header,
                                        FixedEntropy({}, alice.crypto_key))  # fmt: skip
    assert b64encode_str(cek) == case["derived_key"]
    assert encrypted_key == b""
    assert header["epk"] == {k: v for k, v in case["ephemeral"].items() if k != "d"}
    # ... and the recipient's.
    assert b64encode_str(algorithm.unwrap(bob, enc, b"", header, 1000)) == case["derived_key"]


def test_rfc8037_x25519_ecdh_es() -> None:
    bob_private = x25519.X25519PrivateKey.from_private_bytes(
        bytes.fromhex(RFC8037["recipient_private_hex"])
    )
    ephemeral = x25519.X25519PrivateKey.from_private_bytes(
        bytes.fromhex(RFC8037["ephemeral_private_hex"])
    )
    bob = import_key(bob_private)
    assert bob.public().to_dict()["x"] == RFC8037["recipient"]["x"]
    shared = ephemeral.exchange(bob_private.public_key())
    assert shared.hex() == RFC8037["shared_secret_hex"]
    sealed = seal(
        b"RFC 8037", [jwe.Recipient(bob.public(), "ECDH-ES")], "A128GCM", {"alg": None}, {},
        None, None, FixedEntropy({"iv": bytes(12)}, ephemeral),
    )  # fmt: skip
    token = sealed.compact()
    opened = jwe.decrypt_compact(token, bob, algorithms=["ECDH-ES"])
    assert opened.header["epk"] == RFC8037["epk"]
    assert opened.plaintext == b"RFC 8037"


# -- RFC 7520 §5: the JOSE cookbook ----------------------------------------------------------


def _cookbook_keys(case: dict[str, Any]) -> list[Any]:
    data = case["input"]
    if "pwd" in data:
        return [jwe.password_key(data["pwd"], alg=data["alg"])]
    keys = data["key"] if isinstance(data["key"], list) else [data["key"]]
    return [from_jwk(key) for key in keys]


def _cookbook_algs(case: dict[str, Any]) -> list[Any]:
    algs = case["input"]["alg"]
    return [alg_object(alg) for alg in (algs if isinstance(algs, list) else [algs])]


@pytest.mark.parametrize("path", COOKBOOK_FILES, ids=lambda p: p.name[:4])
def test_cookbook_decrypts_every_output(path: Path) -> None:
    case = load(path)
    plaintext = case["input"]["plaintext"].encode()
    for key, alg in zip(_cookbook_keys(case), _cookbook_algs(case), strict=True):
        for form, output in case["output"].items():
            if form == "compact":
                opened = jwe.decrypt_compact(output, key, algorithms=[alg], allow_zip=True)
            else:
                opened = jwe.decrypt_json(output, key, algorithms=[alg], allow_zip=True)
            assert opened.plaintext == plaintext, form
            assert opened.key is key


def test_cookbook_curve25519_decrypts() -> None:
    case = load(COOKBOOK / "curve25519" / "ecdh-es.json")
    key = from_jwk(case["input"]["key"])
    for form, output in case["output"].items():
        decrypt = jwe.decrypt_compact if form == "compact" else jwe.decrypt_json
        opened = decrypt(output, key, algorithms=["ECDH-ES"])  # type: ignore[operator]
        assert opened.plaintext == case["input"]["plaintext"].encode()


def _entropy(case: dict[str, Any]) -> Entropy:
    values = {"cek": b64decode(case["generated"]["cek"]) if "cek" in case["generated"] else b"",
              "iv": b64decode(case["generated"]["iv"])}  # fmt: skip
    ephemeral = None
    encrypting = case.get("encrypting_key", {})
    for entry in encrypting if isinstance(encrypting, list) else [encrypting]:
        if "epk" in entry:
            ephemeral = from_jwk(entry["epk"]).crypto_key
        if "iv" in entry:
            values["kw_iv"] = b64decode(entry["iv"])
        if "salt" in entry:
            values["p2s"] = b64decode(entry["salt"])
    return FixedEntropy(values, ephemeral)


def _reseal(case: dict[str, Any]) -> Any:
    content = case["encrypting_content"]
    keys = [k.public() if k.kty in ("RSA", "EC", "OKP") else k for k in _cookbook_keys(case)]
    encrypting = case.get("encrypting_key", {})
    entries = encrypting if isinstance(encrypting, list) else [encrypting]
    recipients = [
        jwe.Recipient(key, alg, entry.get("header", {}))
        for key, alg, entry in zip(keys, _cookbook_algs(case), entries, strict=True)
    ]
    aad = b64decode(case["generated"]["aad_b64u"]) if "aad_b64u" in case["generated"] else None
    enc = content.get("protected", {}).get("enc") or content["unprotected"]["enc"]
    return seal(
        case["input"]["plaintext"].encode(), recipients, enc, dict(content.get("protected", {})),
        dict(content.get("unprotected", {})), aad, case["input"].get("zip"), _entropy(case),
    )  # fmt: skip


def _without_rsa_keys(obj: Any, case: dict[str, Any]) -> Any:
    """Blank the encrypted keys that RSA randomizes; everything else must match."""
    algs = case["input"]["alg"]
    rsa = [str(alg).startswith("RSA") for alg in (algs if isinstance(algs, list) else [algs])]
    if isinstance(obj, str):
        parts = obj.split(".")
        return ".".join([*parts[:1], "", *parts[2:]]) if rsa[0] else obj
    obj = dict(obj)
    if "recipients" in obj:
        obj["recipients"] = [
            {k: v for k, v in entry.items() if k != "encrypted_key" or not is_rsa}
            for entry, is_rsa in zip(obj["recipients"], rsa, strict=True)
        ]
    elif rsa[0]:
        obj.pop("encrypted_key", None)
    return obj


@pytest.mark.parametrize("path", COOKBOOK_FILES, ids=lambda p: p.name[:4])
def test_cookbook_reproduced_byte_for_byte(path: Path) -> None:
    case = load(path)
    if case["input"].get("enc") == "A128CBC-H256":
        case["input"]["enc"] = "A128CBC-HS256"  # A typo in the cookbook's 5.13 input.
    sealed = _reseal(case)
    output = case["output"]
    if "compact" in output:
        assert _without_rsa_keys(sealed.compact(), case) == _without_rsa_keys(
            output["compact"], case
        )
    if "json_flat" in output:
        assert _without_rsa_keys(sealed.json(True), case) == _without_rsa_keys(
            output["json_flat"], case
        )
    if "recipients" in output["json"]:
        assert _without_rsa_keys(sealed.json(False), case) == _without_rsa_keys(
            output["json"], case
        )


# -- RFC 7520 §6: nesting signatures and encryption ---------------------------------------


def test_cookbook_nested_jwt() -> None:
    case = load(COOKBOOK / "6.nesting_signatures_and_encryption.json")
    signing_key = from_jwk(case["sign"]["input"]["key"])
    encryption_key = from_jwk(case["encrypt"]["input"]["key"])
    for form, output in case["encrypt"]["output"].items():
        if form != "compact":
            opened = jwe.decrypt_json(output, encryption_key, algorithms=["RSA-OAEP"])
            assert opened.plaintext.decode() == case["sign"]["output"]["compact"]
            continue
        token = jwt.decode_complete(
            output, signing_key.public(), algorithms=["PS256"], decrypt_with=encryption_key,
            issuer="hobbiton.example", now=1300819000, typ="JWT",
        )  # fmt: skip
        assert token.claims["http://example.com/is_root"] is True
        assert token.encryption_header is not None
        assert token.encryption_header["cty"] == "JWT"


def test_cookbook_nested_content_reproduced() -> None:
    case = load(COOKBOOK / "6.nesting_signatures_and_encryption.json")["encrypt"]
    # The cookbook's header carries no kid, so the key is used without its kid.
    key = from_jwk({k: v for k, v in case["input"]["key"].items() if k != "kid"}).public()
    sealed = seal(
        case["input"]["plaintext"].encode(), [jwe.Recipient(key, "RSA-OAEP")], "A128GCM",
        dict(case["encrypting_content"]["protected"]), {}, None, None,
        FixedEntropy({"cek": b64decode(case["generated"]["cek"]),
                      "iv": b64decode(case["generated"]["iv"])}),
    )  # fmt: skip
    produced, expected = sealed.compact().split("."), case["output"]["compact"].split(".")
    assert [produced[i] for i in (0, 2, 3, 4)] == [expected[i] for i in (0, 2, 3, 4)]


def test_dir_key_bound_to_its_enc() -> None:
    # RFC 7520 §5.6 binds the dir key to "A128GCM": usable with dir + A128GCM only.
    case = load(COOKBOOK / "jwe" / "5_6.direct_encryption_using_aes-gcm.json")
    key = from_jwk(case["input"]["key"])
    assert isinstance(key, OctKey)
    assert jwe.decrypt_compact(case["output"]["compact"], key).plaintext
    with pytest.raises(Exception, match="bound to A128GCM"):
        jwe.encrypt_compact(b"x", key, enc="A256GCM")
