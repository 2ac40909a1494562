"""The public API of jot.jose.jwe: serializations, key binding, allow-lists, errors."""

from __future__ import annotations

import os

import pytest

from jot.jose import jwe, jws, jwt
from jot.jose._b64 import b64decode, b64encode_str
from jot.jose._json import dumps, loads
from jot.jose._jwe.sealing import ENTROPY, seal
from jot.jose.errors import (
    BadSignatureError,
    DecryptionError,
    ExpiredTokenError,
    KeyNotFoundError,
    MalformedTokenError,
    UnsupportedAlgorithmError,
    UnsupportedHeaderError,
    UsageError,
)
from jot.jose.jwk import KeySet, OctKey, generate, import_key

from .jwe_support import SMALL_P2C, key_for, recipient_key


def _header(token: str) -> dict[str, object]:
    return loads(b64decode(token.split(".")[0]))  # type: ignore[no-any-return]


# -- encrypting ---------------------------------------------------------------------------------


def test_compact_header_and_defaults() -> None:
    key = generate("P-256", kid="k1")
    token = jwe.encrypt_compact(b"hello", key.public(), headers={"cty": "text/plain"})
    assert _header(token) == {
        "alg": "ECDH-ES", "kid": "k1", "cty": "text/plain", "enc": "A256GCM",
        "epk": _header(token)["epk"],
    }  # fmt: skip
    assert token.split(".")[1] == ""  # ECDH-ES is direct: no encrypted key.
    assert jwe.decrypt_compact(token, key, algorithms=["ECDH-ES"]).plaintext == b"hello"


@pytest.mark.parametrize(
    ("kind", "size", "expected"),
    [("RSA", 2048, "RSA-OAEP-256"), ("X448", None, "ECDH-ES"), ("oct", 192, "A192KW")],
)
def test_default_algorithm(kind: str, size: int | None, expected: str) -> None:
    assert jwe.default_algorithm(generate(kind, size=size)) == expected


def test_default_algorithm_needs_a_usable_key() -> None:
    with pytest.raises(UsageError, match="not an encryption key"):
        jwe.default_algorithm(generate("P-256", alg="ES256"))
    with pytest.raises(UsageError):
        jwe.default_algorithm(OctKey(os.urandom(20)))
    assert jwe.default_algorithm(generate("oct", alg="A128GCMKW")) == "A128GCMKW"


@pytest.mark.parametrize(
    ("key_kind", "alg"),
    [
        ("P-256", "RSA-OAEP"),
        ("RSA", "ECDH-ES"),
        ("Ed25519", "ECDH-ES"),
        ("secp256k1", "ECDH-ES"),
        ("oct256", "A128KW"),
        ("oct128", "A256GCMKW"),
        ("RSA", "A128KW"),
        ("oct256", "HS256"),
        ("oct256", "no-such-alg"),
    ],
)
def test_wrong_key_type_size_or_alg_is_a_usage_error(key_kind: str, alg: str) -> None:
    if key_kind.startswith("oct"):
        key = generate("oct", size=int(key_kind[3:]))
    else:
        key = generate(key_kind, size=2048 if key_kind == "RSA" else None)
    with pytest.raises(UsageError):
        jwe.encrypt_compact(b"x", key, alg=alg)
    with pytest.raises(UsageError):
        jwe.decrypt_compact("a.b.c.d.e", key, algorithms=[alg])


def test_keys_are_bound_to_one_alg_and_use() -> None:
    bound = generate("oct", size=256, alg="A256KW")
    with pytest.raises(UsageError, match="bound"):
        jwe.encrypt_compact(b"x", bound, alg="A256GCMKW")
    token = jwe.encrypt_compact(b"x", bound)
    assert jwe.decrypt_compact(token, bound).plaintext == b"x"  # Its alg is the default list.
    signing = import_key({**generate("P-256").to_dict(private=True), "use": "sig"})
    with pytest.raises(UsageError, match="use"):
        jwe.encrypt_compact(b"x", signing.public(), alg="ECDH-ES")
    with pytest.raises(UsageError, match="use"):
        jwe.decrypt_compact("a.b.c.d.e", signing, algorithms=["ECDH-ES"])
    encrypting = import_key({**generate("P-256").to_dict(private=True), "use": "enc"})
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", encrypting, alg="ES256")
    no_unwrap = import_key({**bound.to_dict(private=True), "key_ops": ["wrapKey"]})
    token = jwe.encrypt_compact(b"x", no_unwrap)
    with pytest.raises(UsageError):
        jwe.decrypt_compact(token, no_unwrap)


def test_decrypting_needs_a_private_key_and_an_allow_list() -> None:
    key = key_for("RSA-OAEP-256")
    token = jwe.encrypt_compact(b"x", key.public())
    with pytest.raises(UsageError, match="private"):
        jwe.decrypt_compact(token, key.public(), algorithms=["RSA-OAEP-256"])
    with pytest.raises(UsageError, match="no algorithm"):
        jwe.decrypt_compact(token, key)
    for bad in ("RSA-OAEP-256", [], ()):
        with pytest.raises(UsageError):
            jwe.decrypt_compact(token, key, algorithms=bad)
    with pytest.raises(UsageError):
        jwe.decrypt_compact(token, key, algorithms=["RSA-OAEP-256"], encryptions="A256GCM")
    with pytest.raises(UsageError):
        jwe.decrypt_compact(token, "not a key", algorithms=["RSA-OAEP-256"])  # type: ignore[arg-type]


def test_allow_lists_decide_alg_and_enc() -> None:
    key = key_for("A256KW")
    token = jwe.encrypt_compact(b"x", key, enc="A128CBC-HS256")
    with pytest.raises(UnsupportedAlgorithmError):
        jwe.decrypt_compact(token, key, algorithms=["A256KW"], encryptions=["A256GCM"])
    with pytest.raises(UnsupportedAlgorithmError):
        jwe.decrypt_compact(token, key, algorithms=["A256GCMKW"])
    assert jwe.decrypt_compact(token, key, algorithms=["A256KW"],
                               encryptions=["A128CBC-HS256"]).plaintext == b"x"  # fmt: skip


def test_key_set_selects_by_kid() -> None:
    a, b = generate("oct", size=256, kid="a"), generate("oct", size=256, kid="b")
    keys = KeySet([a, b])
    token = jwe.encrypt_compact(b"for b", b, alg="A256KW")
    assert jwe.decrypt_compact(token, keys, algorithms=["A256KW"]).key is b
    with pytest.raises(KeyNotFoundError):
        jwe.decrypt_compact(token, KeySet([a]), algorithms=["A256KW"])
    anonymous = OctKey(b.crypto_key)
    token = jwe.encrypt_compact(b"no kid", anonymous, alg="A256KW")
    with pytest.raises(KeyNotFoundError):  # Two keys fit and there is no kid: no guessing.
        jwe.decrypt_compact(token, keys, algorithms=["A256KW"])
    assert jwe.decrypt_compact(token, KeySet([b]), algorithms=["A256KW"]).plaintext == b"no kid"
    with pytest.raises(MalformedTokenError):
        jwe.decrypt_compact(_with(token, kid=7), keys, algorithms=["A256KW"])


def test_key_set_with_signing_keys_and_no_algorithms() -> None:
    # An authority's JWKS holds signing and encryption keys; the default allow-list takes the
    # encryption keys' algorithms only.
    encryption = generate("P-256", alg="ECDH-ES+A128KW", kid="enc")
    keys = KeySet([generate("Ed25519", alg="EdDSA"), generate("P-256", alg="ES256"),
                   import_key({**key_for("RSA-OAEP").to_dict(private=True), "use": "sig"}),
                   encryption])  # fmt: skip
    token = jwe.encrypt_compact(b"x", encryption.public())
    assert jwe.decrypt_compact(token, keys).key is encryption
    with pytest.raises(UsageError, match="no algorithm"):
        jwe.decrypt_compact(token, KeySet([generate("Ed25519", alg="EdDSA")]))


def _with(token: str, **changes: object) -> str:
    segments = token.split(".")
    segments[0] = b64encode_str(dumps({**_header(token), **changes}))
    return ".".join(segments)


# -- JSON serialization ------------------------------------------------------------------------


def test_general_json_several_recipients() -> None:
    rsa, ec, oct_ = key_for("RSA-OAEP-256"), generate("P-384", kid="ec"), key_for("A256KW")
    recipients = [
        jwe.Recipient(rsa.public(), "RSA-OAEP-256"),
        jwe.Recipient(ec.public(), "ECDH-ES+A192KW"),
        jwe.Recipient(oct_, "A256KW"),
    ]
    obj = jwe.encrypt_json(b"to three", recipients, enc="A192GCM", aad=b"context",
                           unprotected={"cty": "text/plain"})  # fmt: skip
    assert loads(b64decode(obj["protected"])) == {"enc": "A192GCM"}
    assert [entry["header"]["alg"] for entry in obj["recipients"]] == [
        "RSA-OAEP-256", "ECDH-ES+A192KW", "A256KW"
    ]  # fmt: skip
    assert "epk" in obj["recipients"][1]["header"]
    keys = KeySet([rsa, ec, oct_], allow_mixed=True)
    for alg in ("RSA-OAEP-256", "ECDH-ES+A192KW", "A256KW"):
        opened = jwe.decrypt_json(dumps(obj), keys, algorithms=[alg])
        assert (opened.plaintext, opened.aad, opened.header["cty"]) == (
            b"to three",
            b"context",
            "text/plain",
        )
    with pytest.raises(DecryptionError):
        jwe.decrypt_json({**obj, "aad": b64encode_str(b"other")}, keys, algorithms=["A256KW"])


def test_json_usage_errors() -> None:
    key = key_for("A128KW")
    with pytest.raises(UsageError):
        jwe.encrypt_json(b"x", [])
    with pytest.raises(UsageError):
        jwe.encrypt_json(b"x", [jwe.Recipient(key), jwe.Recipient(key)], flatten=True)
    with pytest.raises(UsageError, match="several"):
        jwe.encrypt_json(b"x", [jwe.Recipient(key_for("dir"), "dir"), jwe.Recipient(key)])
    with pytest.raises(UsageError, match="more than one"):
        jwe.encrypt_json(b"x", [jwe.Recipient(key)], protected={"cty": "a"},
                         unprotected={"cty": "b"})  # fmt: skip
    with pytest.raises(UsageError):
        jwe.encrypt_json("text", [jwe.Recipient(key)])  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        jwe.encrypt_json(b"x", [jwe.Recipient("key")])  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="compact"):
        seal(b"x", [jwe.Recipient(key)], "A128GCM", {}, {"cty": "x"}, None, None,
                  ENTROPY).compact()  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        {"recipients": "x"},
        {"recipients": []},
        {"recipients": [{"header": "x"}]},
        {"recipients": [{}], "header": {}},
        {"iv": 5},
        {"ciphertext": None},
        {"unprotected": []},
        {"protected": 1},
    ],
)
def test_malformed_json(change: dict[str, object]) -> None:
    key = key_for("A128KW")
    obj = {**jwe.encrypt_json(b"x", [jwe.Recipient(key)]), **change}
    with pytest.raises(MalformedTokenError):
        jwe.decrypt_json(obj, key, algorithms=["A128KW"])


def test_header_placement_rules_on_decrypt() -> None:
    key = key_for("A128KW")
    obj = jwe.encrypt_json(b"x", [jwe.Recipient(key, header={"kid": "r"})],
                           unprotected={"x-shared": 1})  # fmt: skip
    entry = obj["recipients"][0]
    for header in ({**entry["header"], "x-shared": 2}, {**entry["header"], "enc": "A128GCM"},
                   {**entry["header"], "crit": ["x"]}):  # fmt: skip
        bad = {**obj, "recipients": [{**entry, "header": header}]}
        with pytest.raises(MalformedTokenError):
            jwe.decrypt_json(bad, key, algorithms=["A128KW"])
    with pytest.raises(MalformedTokenError, match="protected"):
        jwe.decrypt_json({**obj, "unprotected": {"crit": ["x-shared"]}}, key,
                         algorithms=["A128KW"])  # fmt: skip


def test_crit() -> None:
    key = key_for("A128KW")
    token = jwe.encrypt_compact(b"x", key, headers={"crit": ["exp"], "exp": 5})
    with pytest.raises(UnsupportedHeaderError):
        jwe.decrypt_compact(token, key, algorithms=["A128KW"])
    assert jwe.decrypt_compact(token, key, algorithms=["A128KW"], crit=["exp"]).plaintext == b"x"
    for crit in (["enc"], [], "exp", ["exp", "exp"], ["absent"]):
        forged = jwe.encrypt_compact(b"x", key, headers={"crit": crit, "exp": 5})
        with pytest.raises(MalformedTokenError):
            jwe.decrypt_compact(forged, key, algorithms=["A128KW"], crit=["exp", "absent"])


def test_malformed_compact() -> None:
    key = key_for("A128KW")
    token = jwe.encrypt_compact(b"x", key)
    for bad in (token + ".", token.replace(".", "", 1), "." + token.split(".", 1)[1],
                token[:-1] + "*", "é" * 5):  # fmt: skip
        with pytest.raises(MalformedTokenError):
            jwe.decrypt_compact(bad, key, algorithms=["A128KW"])
    with pytest.raises(MalformedTokenError):
        jwe.decrypt_compact("é.b.c.d.e".encode(), key, algorithms=["A128KW"])
    for header in ({"enc": "A256GCM"}, {"alg": "A128KW"}, {"alg": 1, "enc": "A256GCM"}):
        segments = token.split(".")
        segments[0] = b64encode_str(dumps(header))
        with pytest.raises(MalformedTokenError):
            jwe.decrypt_compact(".".join(segments), key, algorithms=["A128KW"])
    with pytest.raises(UsageError):
        jwe.decrypt_compact(5, key, algorithms=["A128KW"])  # type: ignore[arg-type]
    dir_key = key_for("dir")
    dir_token = jwe.encrypt_compact(b"x", dir_key, alg="dir").split(".")
    dir_token[1] = b64encode_str(b"extra")
    with pytest.raises(MalformedTokenError):  # dir/ECDH-ES carry no encrypted key.
        jwe.decrypt_compact(".".join(dir_token), dir_key, algorithms=["dir"])


# -- nested JWTs -----------------------------------------------------------------------------------


def test_nested_jwt_requires_both_layers() -> None:
    signing = generate("Ed25519", alg="EdDSA")
    encryption = generate("X25519", alg="ECDH-ES+A256KW")
    claims = {"sub": "alice", "exp": 2000, "aud": "web"}
    token = jwt.encode(claims, signing, typ="jot+jwt", encrypt_to=encryption.public(),
                       enc="A256CBC-HS512")  # fmt: skip
    header = _header(token)
    assert (header["cty"], header["alg"], header["enc"]) == ("JWT", "ECDH-ES+A256KW",
                                                             "A256CBC-HS512")  # fmt: skip
    decoded = jwt.decode_complete(token, signing.public(), audience="web", typ="jot+jwt",
                                  now=1000, decrypt_with=encryption)  # fmt: skip
    assert decoded.claims == claims
    assert decoded.encryption_header is not None
    with pytest.raises(ExpiredTokenError):
        jwt.decode(token, signing.public(), audience="web", now=3000, decrypt_with=encryption)
    with pytest.raises(DecryptionError):
        jwt.decode(token, signing.public(), audience="web", now=1000,
                   decrypt_with=generate("X25519", alg="ECDH-ES+A256KW"))  # fmt: skip
    other_signer = generate("Ed25519", alg="EdDSA")
    forged = jwt.encode(claims, other_signer, encrypt_to=encryption.public())
    with pytest.raises(BadSignatureError):  # A valid outer layer does not vouch for the inner.
        jwt.decode(forged, signing.public(), audience="web", now=1000, decrypt_with=encryption)
    not_a_jwt = jwe.encrypt_compact(jwt.encode(claims, signing).encode(), encryption.public())
    with pytest.raises(MalformedTokenError, match="cty"):
        jwt.decode(not_a_jwt, signing.public(), audience="web", now=1000,
                   decrypt_with=encryption)  # fmt: skip


def test_password_key_round_trip() -> None:
    key = jwe.password_key("Thus from my lips, by yours, my sin is purged.")
    assert key.alg == "PBES2-HS512+A256KW"
    token = jwe.encrypt_compact(b"x", key, headers={"p2c": SMALL_P2C})
    assert _header(token)["p2c"] == SMALL_P2C
    assert len(b64decode(str(_header(token)["p2s"]))) == 16
    assert jwe.decrypt_compact(token, key).plaintext == b"x"
    assert recipient_key("PBES2-HS256+A128KW") is not key


# -- the prepared paths (checks cached per key) -------------------------------------------------


@pytest.mark.parametrize("alg", ["dir", "A256KW", "RSA-OAEP-256"])
def test_prepared_compact_header_matches_the_general_path(alg: str) -> None:
    key = key_for(alg)
    recipient = key.public() if key.kty == "RSA" else key
    for headers in (None, {"cty": "JWT"}, {"cty": "JWT", "kid": "override"}):
        token = jwe.encrypt_compact(b"x", recipient, alg=alg, headers=headers)
        general = seal(
            b"x",
            [jwe.Recipient(recipient, alg)],
            "A256GCM",
            {"alg": None, **({"kid": key.kid} if key.kid else {}), **(headers or {})},
            {},
            None,
            None,
            ENTROPY,
        ).compact()
        assert token.split(".")[0] == general.split(".")[0]  # fmt: skip
        assert jwe.decrypt_compact(token, key, algorithms=[alg]).plaintext == b"x"


@pytest.mark.parametrize("alg", ["ECDH-ES", "A128GCMKW", "PBES2-HS256+A128KW"])
def test_prepared_compact_header_order_with_per_token_parameters(alg: str) -> None:
    key = key_for(alg)
    recipient = key.public() if key.kty in ("EC", "OKP") else key
    headers = {"cty": "JWT", "p2c": SMALL_P2C} if alg.startswith("PBES2") else {"cty": "JWT"}
    token = jwe.encrypt_compact(b"x", recipient, alg=alg, headers=headers)
    general = seal(b"x", [jwe.Recipient(recipient, alg)], "A256GCM",
                        {"alg": None, **({"kid": key.kid} if key.kid else {}), **headers}, {},
                        None, None, ENTROPY).compact()  # fmt: skip
    assert list(_header(token)) == list(_header(general))
    assert jwe.decrypt_compact(token, key, algorithms=[alg]).plaintext == b"x"


def test_a_key_rebound_is_checked_as_a_new_key() -> None:
    key = generate("oct", size=256, alg="A256KW")
    token = jwe.encrypt_compact(b"x", key)
    assert jwe.decrypt_compact(token, key).plaintext == b"x"
    signing = import_key(key, use="sig")
    with pytest.raises(UsageError):
        jwe.encrypt_compact(b"x", signing)
    with pytest.raises(UsageError):
        jwe.decrypt_compact(token, signing)
    other = import_key(key, alg="A256GCMKW")
    with pytest.raises(UsageError):
        jwe.encrypt_compact(b"x", other, alg="A256KW")
    with pytest.raises(UnsupportedAlgorithmError):
        jwe.decrypt_compact(token, other)
    assert jwe.decrypt_compact(token, key).plaintext == b"x"  # The first key is unchanged.


def test_a_cached_header_is_reselected_for_other_keys() -> None:
    a, b = generate("oct", size=256, kid="same"), generate("oct", size=256, kid="same")
    token = jwe.encrypt_compact(b"for a", a, alg="A256KW")
    assert jwe.decrypt_compact(token, KeySet([a]), algorithms=["A256KW"]).key is a
    with pytest.raises(DecryptionError):  # Same header, other key set: selected afresh.
        jwe.decrypt_compact(token, KeySet([b]), algorithms=["A256KW"])


def test_check_key_says_whether_a_key_fits_an_algorithm() -> None:
    secret = generate("oct", size=256)
    jwe.check_key(secret, "A256KW")
    jwe.check_key(secret, "dir", enc="A256GCM")
    with pytest.raises(UsageError, match="dir with A128GCM needs a 16-byte key"):
        jwe.check_key(secret, "dir", enc="A128GCM")
    with pytest.raises(UsageError, match="ECDH-ES needs a"):
        jwe.check_key(secret, "ECDH-ES")
    with pytest.raises(UsageError, match="unknown key management algorithm 'ES256'"):
        jwe.check_key(secret, "ES256")
    with pytest.raises(UsageError, match="must be a "):
        jwe.check_key(secret.crypto_key, "A256KW")  # type: ignore[arg-type]
