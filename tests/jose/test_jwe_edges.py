"""The corners of jot.jose.jwe: rare inputs, defensive checks and the caches' bounds."""

from __future__ import annotations

import os
import zlib

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from jot.jose import jwe
from jot.jose._b64 import b64decode, b64encode_str
from jot.jose._jwe import content as _jwe_content
from jot.jose._jwe.keys import Entropy
from jot.jose._jwe.registry import KEY_MANAGEMENT_ALGORITHMS
from jot.jose._jwe.sealing import seal
from jot.jose.errors import (
    DecryptionError,
    KeyNotFoundError,
    MalformedTokenError,
    UsageError,
)
from jot.jose.hazmat import RSA1_5
from jot.jose.jwk import KeySet, OctKey, generate

from .jwe_support import key_for

CBC = _jwe_content.CONTENT_ENCRYPTIONS["A128CBC-HS256"]
GCM = _jwe_content.CONTENT_ENCRYPTIONS["A128GCM"]


def test_reprs_name_the_algorithm() -> None:
    assert repr(CBC) == "<AESCBCHMAC A128CBC-HS256>"
    assert repr(RSA1_5) == "<RSA15 RSA1_5>"
    assert repr(KEY_MANAGEMENT_ALGORITHMS["ECDH-ES"]) == "<ECDHES ECDH-ES>"


def test_content_encryption_sizes_are_checked_when_encrypting() -> None:
    for enc, cek, iv in ((CBC, bytes(16), bytes(16)), (CBC, bytes(32), bytes(12)),
                         (GCM, bytes(32), bytes(12)), (GCM, bytes(16), bytes(16))):  # fmt: skip
        with pytest.raises(UsageError):
            enc.encrypt(cek, iv, b"x", b"")
    with pytest.raises(UsageError):
        jwe.encrypt_compact(b"x", key_for("A128KW"), enc="A999GCM")


def _authentic(ciphertext: bytes, cek: bytes, iv: bytes, aad: bytes) -> bytes:
    """A tag that authenticates ``ciphertext``: what a sender holding the key could forge."""
    return CBC._tag(cek[:16], iv, ciphertext, aad)  # type: ignore[attr-defined]


def test_cbc_authentic_but_malformed_content_is_a_decryption_error() -> None:
    cek, iv, aad = os.urandom(32), os.urandom(16), b"aad"
    encryptor = Cipher(algorithms.AES(cek[16:]), modes.CBC(iv)).encryptor()
    bad_padding = encryptor.update(bytes(16)) + encryptor.finalize()  # Ends in 0x00.
    for ciphertext in (bad_padding, bad_padding[:15], b""):
        tag = _authentic(ciphertext, cek, iv, aad)
        with pytest.raises(DecryptionError):
            CBC.decrypt(cek, iv, ciphertext, tag, aad)


def test_x448_and_bound_ec_keys() -> None:
    key = generate("X448")
    token = jwe.encrypt_compact(b"x448", key.public(), alg="ECDH-ES+A256KW")
    assert jwe.decrypt_compact(token, key, algorithms=["ECDH-ES+A256KW"]).plaintext == b"x448"
    bound = generate("P-256", alg="ECDH-ES+A128KW")
    with pytest.raises(UsageError, match="bound"):
        jwe.encrypt_compact(b"x", bound.public(), alg="ECDH-ES")


def test_header_parameters_of_key_wrapping_are_checked() -> None:
    key = key_for("A128GCMKW")
    token = jwe.encrypt_compact(b"x", key, alg="A128GCMKW")
    header = _header(token)
    for change in ({"iv": None}, {"iv": 5}, {"iv": b64encode_str(bytes(11))},
                   {"tag": b64encode_str(bytes(15))}):  # fmt: skip
        forged = {k: v for k, v in {**header, **change}.items() if v is not None}
        with pytest.raises(MalformedTokenError):
            jwe.decrypt_compact(_with_header(token, forged), key, algorithms=["A128GCMKW"])
    ecdh = generate("P-256")
    with pytest.raises(UsageError, match="apu"):
        jwe.encrypt_compact(b"x", ecdh.public(), alg="ECDH-ES", headers={"apu": 1})
    token = jwe.encrypt_compact(b"x", ecdh.public(), alg="ECDH-ES", headers={"apu": "QQ"})
    assert jwe.decrypt_compact(token, ecdh, algorithms=["ECDH-ES"]).plaintext == b"x"
    with pytest.raises(MalformedTokenError, match="apu"):
        jwe.decrypt_compact(_with_header(token, {**_header(token), "apu": 1}), ecdh,
                            algorithms=["ECDH-ES"])  # fmt: skip


def _header(token: str) -> dict[str, object]:
    from jot.jose._json import loads

    return loads(b64decode(token.split(".")[0]))  # type: ignore[no-any-return]


def _with_header(token: str, header: dict[str, object]) -> str:
    from jot.jose._json import dumps

    return ".".join([b64encode_str(dumps(header)), *token.split(".")[1:]])


def test_encryption_usage_errors() -> None:
    with pytest.raises(UsageError, match="32-byte"):
        jwe.encrypt_compact(b"x", OctKey(os.urandom(16)), alg="dir", enc="A256GCM")
    with pytest.raises(UsageError, match="p2c"):
        jwe.encrypt_compact(b"x", jwe.password_key("pw"), headers={"p2c": 999})
    with pytest.raises(UsageError):
        jwe.decrypt_json(5, key_for("A128KW"), algorithms=["A128KW"])  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        jwe.decrypt_json("{}", "key", algorithms=["A128KW"])  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        jwe.decrypt_compact("a.b.c.d.e", key_for("A128KW"), algorithms=[{"A128KW"}])  # type: ignore[list-item]
    with pytest.raises(UsageError, match="positive"):
        jwe.decrypt_compact("a.b.c.d.e", key_for("A128KW"), algorithms=["A128KW"],
                            max_inflated_size=0)  # fmt: skip


def test_odd_arguments_are_usage_errors() -> None:
    key = key_for("A128KW")
    with pytest.raises(UsageError):
        jwe.encrypt_compact(b"x", key, alg=["A128KW"])  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        jwe.encrypt_compact(b"x", key, enc=["A128GCM"])  # type: ignore[arg-type]
    token = jwe.encrypt_compact(b"x", key, headers={"x": [1]})  # Any JSON value is fine.
    assert _header(token)["x"] == [1]
    # Headers naming alg or enc take the general path, which sets them in place.
    token = jwe.encrypt_compact(b"x", key, enc="A256GCM", headers={"enc": "A128GCM", "cty": "a"})
    assert list(_header(token).items())[-2:] == [("enc", "A256GCM"), ("cty", "a")]


def test_prepared_headers_tell_true_from_one() -> None:
    key = key_for("A128KW")
    for value in (1, True, 1, True):
        token = jwe.encrypt_compact(b"x", key, headers={"x": value})
        assert type(_header(token)["x"]) is type(value)


def test_invalid_compressed_content() -> None:
    key = key_for("A128KW")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = compressor.compress(b"hello" * 100) + compressor.flush()
    for content in (b"\xff" * 20, stream[:-3], stream + b"trailing"):
        sealed = seal(content, [jwe.Recipient(key)], "A128GCM",
                           {"alg": None, "zip": "DEF"}, {}, None, None, Entropy())  # fmt: skip
        with pytest.raises(MalformedTokenError, match="compressed content"):
            jwe.decrypt_compact(sealed.compact(), key, algorithms=["A128KW"], allow_zip=True)


def test_key_sets_without_kid_skip_keys_that_do_not_fit() -> None:
    secret = OctKey(os.urandom(32))
    keys = KeySet([key_for("RSA-OAEP"), generate("P-256"), secret], allow_mixed=True)
    token = jwe.encrypt_compact(b"x", secret, alg="A256KW")
    assert jwe.decrypt_compact(token, keys, algorithms=["A256KW"]).key is secret


def test_several_recipients_a_decryption_failure_is_reported_first() -> None:
    mine = generate("oct", size=256, kid="a")
    impostor = OctKey(os.urandom(32), kid="a")
    other = generate("oct", size=256, kid="b")
    obj = jwe.encrypt_json(b"x", [jwe.Recipient(impostor, "A256KW"),
                                  jwe.Recipient(other, "A256KW")])  # fmt: skip
    with pytest.raises(DecryptionError):
        jwe.decrypt_json(obj, KeySet([mine]), algorithms=["A256KW"])
    with pytest.raises(KeyNotFoundError):
        jwe.decrypt_json(obj, KeySet([generate("oct", size=256, kid="c")]),
                         algorithms=["A256KW"])  # fmt: skip


def test_direct_json_recipient_must_have_no_encrypted_key() -> None:
    key = key_for("dir")
    obj = jwe.encrypt_json(b"x", [jwe.Recipient(key, "dir")], flatten=True)
    obj["encrypted_key"] = b64encode_str(b"extra")
    with pytest.raises(MalformedTokenError, match="empty encrypted key"):
        jwe.decrypt_json(obj, key, algorithms=["dir"])
