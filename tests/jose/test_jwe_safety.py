"""The safety rules of issue 3, each with a test that fails if the rule is broken."""

from __future__ import annotations

import os
import tracemalloc
import zlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from jot.jose import jwe, jws, jwt
from jot.jose._b64 import b64decode, b64encode_str
from jot.jose._json import dumps, loads
from jot.jose._jwe import content as _jwe_content
from jot.jose._jwe import ecdh as _jwe_ecdh
from jot.jose._jwe import keys as _jwe_keys
from jot.jose._jwe import opening as _jwe_open
from jot.jose.errors import (
    DecryptionError,
    MalformedTokenError,
    UnsupportedAlgorithmError,
    UnsupportedHeaderError,
    UsageError,
)
from jot.jose.hazmat import RSA1_5
from jot.jose.jwk import OctKey, generate

from .jwe_support import SMALL_P2C, key_for


def _with_header(token: str, **changes: Any) -> str:
    segments = token.split(".")
    header = loads(b64decode(segments[0]))
    header.update(changes)
    segments[0] = b64encode_str(dumps(header))
    return ".".join(segments)


def _replace(token: str, index: int, raw: bytes) -> str:
    segments = token.split(".")
    segments[index] = b64encode_str(raw)
    return ".".join(segments)


# -- RSA1_5: hazmat only, failure-uniform ---------------------------------------------------


def test_rsa1_5_is_not_available_by_name() -> None:
    key = key_for("RSA-OAEP")
    with pytest.raises(UsageError, match="hazmat"):
        jwe.encrypt_compact(b"x", key.public(), alg="RSA1_5")
    token = jwe.encrypt_compact(b"x", key.public(), alg=RSA1_5)
    with pytest.raises(UsageError, match="hazmat"):
        jwe.decrypt_compact(token, key, algorithms=["RSA1_5"])
    with pytest.raises(UnsupportedAlgorithmError):
        jwe.decrypt_compact(token, key, algorithms=["RSA-OAEP"])
    assert jwe.decrypt_compact(token, key, algorithms=[RSA1_5]).plaintext == b"x"


def test_rsa1_5_failures_are_indistinguishable() -> None:
    key = key_for("RSA-OAEP")
    public = key.public().crypto_key
    good = jwe.encrypt_compact(b"secret", key.public(), alg=RSA1_5, enc="A128CBC-HS256")
    size = public.key_size // 8
    forged = {
        "random encrypted key": _replace(good, 1, os.urandom(size)),
        "CEK of the wrong length": _replace(good, 1, public.encrypt(b"short", padding.PKCS1v15())),
        "right length, wrong CEK": _replace(good, 1, public.encrypt(bytes(32), padding.PKCS1v15())),
        "bad tag": _replace(good, 4, bytes(16)),
    }
    errors = []
    for token in forged.values():
        with pytest.raises(DecryptionError) as info:
            jwe.decrypt_compact(token, key, algorithms=[RSA1_5])
        errors.append((type(info.value), str(info.value), info.value.error))
    assert len(set(errors)) == 1
    # A failed unwrap yields a fresh random CEK of the right size, never an error.
    enc = _jwe_content.CONTENT_ENCRYPTIONS["A128CBC-HS256"]
    bad = public.encrypt(b"short", padding.PKCS1v15())
    first, second = (RSA1_5.unwrap(key, enc, bad, {}, 1) for _ in range(2))
    assert len(first) == len(second) == 32
    assert first != second


def test_rsa_oaep_unwrap_failure_is_uniform_too() -> None:
    key = key_for("RSA-OAEP-256")
    good = jwe.encrypt_compact(b"secret", key.public(), alg="RSA-OAEP-256")
    with pytest.raises(DecryptionError) as wrong_key:
        jwe.decrypt_compact(_replace(good, 1, os.urandom(256)), key, algorithms=["RSA-OAEP-256"])
    with pytest.raises(DecryptionError) as wrong_tag:
        jwe.decrypt_compact(_replace(good, 4, bytes(16)), key, algorithms=["RSA-OAEP-256"])
    assert str(wrong_key.value) == str(wrong_tag.value)


# -- ECDH-ES: the ephemeral key is checked before any key agreement -------------------------


@pytest.fixture
def exchanges(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    real = _jwe_ecdh._exchange

    def spy(key: Any, private: Any, public: Any) -> bytes:
        calls.append(public)
        return real(key, private, public)

    monkeypatch.setattr(_jwe_ecdh, "_exchange", spy)
    return calls


@pytest.mark.parametrize(
    ("recipient", "epk_kind"), [("P-256", "P-384"), ("P-256", "X25519"), ("X25519", "X448")]
)
def test_ecdh_ephemeral_key_of_another_curve_or_type(
    recipient: str, epk_kind: str, exchanges: list[Any]
) -> None:
    key = generate(recipient)
    token = jwe.encrypt_compact(b"x", key.public(), alg="ECDH-ES")
    exchanges.clear()
    forged = _with_header(token, epk=generate(epk_kind).public().to_dict())
    with pytest.raises(DecryptionError):
        jwe.decrypt_compact(forged, key, algorithms=["ECDH-ES"])
    assert exchanges == []


def test_ecdh_ephemeral_point_off_the_curve(exchanges: list[Any]) -> None:
    key = generate("P-256")
    token = jwe.encrypt_compact(b"x", key.public(), alg="ECDH-ES+A128KW")
    epk = loads(b64decode(token.split(".")[0]))["epk"]
    y = int.from_bytes(b64decode(epk["y"]), "big")
    epk["y"] = b64encode_str(((y + 1) % 2**256).to_bytes(32, "big"))
    exchanges.clear()
    with pytest.raises(DecryptionError):
        jwe.decrypt_compact(_with_header(token, epk=epk), key, algorithms=["ECDH-ES+A128KW"])
    assert exchanges == []


def test_ecdh_ephemeral_private_key_or_no_object_refused() -> None:
    key = generate("X25519")
    token = jwe.encrypt_compact(b"x", key.public(), alg="ECDH-ES")
    with pytest.raises(MalformedTokenError):
        jwe.decrypt_compact(_with_header(token, epk=generate("X25519").to_dict(private=True)), key,
                            algorithms=["ECDH-ES"])  # fmt: skip
    with pytest.raises(MalformedTokenError):
        jwe.decrypt_compact(_with_header(token, epk="x"), key, algorithms=["ECDH-ES"])


def test_x25519_all_zero_shared_secret_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate("X25519")
    # A sender who picks a small-order point knows the shared secret (all zeros), hence the CEK.
    small_order = {"kty": "OKP", "crv": "X25519", "x": b64encode_str(bytes(32))}
    header = b64encode_str(dumps({"alg": "ECDH-ES", "enc": "A128GCM", "epk": small_order}))
    other_info = b"\0\0\0\x07A128GCM" + bytes(8) + (128).to_bytes(4, "big")
    cek = ConcatKDFHash(hashes.SHA256(), 16, other_info).derive(bytes(32))
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, b"chosen by the sender", header.encode())
    token = ".".join([header, "", b64encode_str(iv), b64encode_str(sealed[:-16]),
                      b64encode_str(sealed[-16:])])  # fmt: skip
    with pytest.raises(DecryptionError):
        jwe.decrypt_compact(token, key, algorithms=["ECDH-ES"])
    # Whatever the X25519 implementation does with such a point, jot itself refuses zeros.
    monkeypatch.setattr(_jwe_ecdh, "_exchange", lambda key, private, public: bytes(32))
    with pytest.raises(DecryptionError):
        jwe.decrypt_compact(token, key, algorithms=["ECDH-ES"])


# -- PBES2: bounded iterations, checked salt, password keys only ----------------------------


@pytest.fixture
def password() -> OctKey:
    return jwe.password_key("hunter2 is not a good password", alg="PBES2-HS256+A128KW")


@pytest.fixture
def kek_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = _jwe_keys.PBES2._kek

    def spy(self: Any, secret: bytes, salt: bytes, count: int) -> bytes:
        calls.append(count)
        return real(self, secret, salt, count)

    monkeypatch.setattr(_jwe_keys.PBES2, "_kek", spy)
    return calls


def test_pbes2_iteration_count_is_bounded(password: OctKey, kek_calls: list[int]) -> None:
    token = jwe.encrypt_compact(b"x", password, headers={"p2c": 5000})
    kek_calls.clear()
    for count in (10**9, jwe.MAX_P2C + 1, 999, 0, -1, True, "5000", 5000.0):
        with pytest.raises(MalformedTokenError, match="p2c"):
            jwe.decrypt_compact(_with_header(token, p2c=count), password)
    assert kek_calls == []  # Refused before a single iteration was spent.
    with pytest.raises(MalformedTokenError):
        jwe.decrypt_compact(token, password, max_p2c=4999)
    assert jwe.decrypt_compact(token, password, max_p2c=5000).plaintext == b"x"
    assert _jwe_keys.MIN_P2C <= jwe.DEFAULT_P2C <= jwe.MAX_P2C


def test_pbes2_salt_at_least_8_bytes(password: OctKey, kek_calls: list[int]) -> None:
    token = jwe.encrypt_compact(b"x", password, headers={"p2c": SMALL_P2C})
    kek_calls.clear()
    with pytest.raises(MalformedTokenError, match="p2s"):
        jwe.decrypt_compact(_with_header(token, p2s=b64encode_str(bytes(7))), password)
    assert kek_calls == []
    with pytest.raises(DecryptionError):  # 8 bytes pass the check; the changed header does not.
        jwe.decrypt_compact(_with_header(token, p2s=b64encode_str(bytes(8))), password)
    assert kek_calls == [SMALL_P2C]


def test_pbes2_only_with_password_keys(password: OctKey) -> None:
    secret = OctKey(os.urandom(32))
    with pytest.raises(UsageError):
        jwe.encrypt_compact(b"x", secret, alg="PBES2-HS256+A128KW")
    token = jwe.encrypt_compact(b"x", password, headers={"p2c": SMALL_P2C})
    with pytest.raises(UsageError):
        jwe.decrypt_compact(token, secret, algorithms=["PBES2-HS256+A128KW"])
    for alg in ("A128KW", "dir", "A128GCMKW"):
        with pytest.raises(UsageError):
            jwe.encrypt_compact(b"x", password, alg=alg)
    with pytest.raises(UsageError):
        jws.sign_compact(b"x", password, alg="HS256")
    with pytest.raises(UsageError):
        jwe.password_key("", alg="PBES2-HS256+A128KW")
    with pytest.raises(UsageError):
        jwe.password_key("pw", alg="A128KW")


# -- zip: off by default, bounded when on ----------------------------------------------------


def test_zip_is_refused_unless_allowed() -> None:
    key = key_for("A128KW")
    token = jwe.encrypt_compact(b"a" * 1000, key, zip="DEF")
    assert len(token) < 300
    with pytest.raises(UnsupportedHeaderError, match="allow_zip"):
        jwe.decrypt_compact(token, key, algorithms=["A128KW"])
    assert jwe.decrypt_compact(token, key, algorithms=["A128KW"], allow_zip=True).plaintext == (
        b"a" * 1000
    )
    with pytest.raises(UnsupportedHeaderError):
        jwe.decrypt_compact(_with_header(token, zip="GZIP"), key, algorithms=["A128KW"],
                            allow_zip=True)  # fmt: skip
    with pytest.raises(UsageError):
        jwe.encrypt_compact(b"x", key, zip="GZIP")


def test_zip_bomb_is_never_fully_inflated() -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = bomb.compress(bytes(64 * 1024 * 1024)) + bomb.flush()
    tracemalloc.start()
    try:
        with pytest.raises(MalformedTokenError, match="inflates to more than"):
            _jwe_open._inflate(deflated, 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # 64 MiB were never materialized.
    key = key_for("A128KW")
    token = jwe.encrypt_compact(bytes(2 * 1024 * 1024), key, zip="DEF")
    with pytest.raises(MalformedTokenError, match="inflates"):
        jwe.decrypt_compact(token, key, algorithms=["A128KW"], allow_zip=True)
    opened = jwe.decrypt_compact(
        token, key, algorithms=["A128KW"], allow_zip=True, max_inflated_size=2 * 1024 * 1024
    )
    assert len(opened.plaintext) == 2 * 1024 * 1024


def test_zip_only_in_the_protected_header() -> None:
    key = key_for("A128KW")
    obj = jwe.encrypt_json(b"x", [jwe.Recipient(key)], unprotected={"zip": "DEF"})
    with pytest.raises(MalformedTokenError, match="protected"):
        jwe.decrypt_json(obj, key, algorithms=["A128KW"], allow_zip=True)


# -- sizes, exact lengths, the tag before the plaintext --------------------------------------


def test_size_limits_before_decoding() -> None:
    key = key_for("A256KW")
    token = jwe.encrypt_compact(b"x" * 100, key)
    with pytest.raises(MalformedTokenError, match="larger than"):
        jwe.decrypt_compact(token, key, algorithms=["A256KW"], max_size=len(token) - 1)
    with pytest.raises(MalformedTokenError, match="larger than"):
        jwe.decrypt_json("{" + " " * jwe.MAX_SIZE + "}", key, algorithms=["A256KW"])
    segments = token.split(".")
    for index in (2, 4, 1, 0):  # iv, tag, encrypted key, protected header
        oversized = list(segments)
        oversized[index] = "A" * 20000
        with pytest.raises(MalformedTokenError, match="too large"):
            jwe.decrypt_compact(".".join(oversized), key, algorithms=["A256KW"])
    flattened = jwe.encrypt_json(b"x", [jwe.Recipient(key)], flatten=True)
    for member in ("iv", "tag", "encrypted_key"):
        with pytest.raises(MalformedTokenError, match="too large"):
            jwe.decrypt_json({**flattened, member: "A" * 20000}, key, algorithms=["A256KW"])


@pytest.mark.parametrize("enc", ["A128GCM", "A128CBC-HS256"])
def test_iv_and_tag_lengths_are_exact(enc: str) -> None:
    key = key_for("A128KW")
    token = jwe.encrypt_compact(b"x", key, enc=enc)
    segments = token.split(".")
    iv, tag = b64decode(segments[2]), b64decode(segments[4])
    for index, raw in ((2, iv + b"\0"), (2, iv[:-1]), (4, tag[:-1]), (4, tag + b"\0"), (4, b"")):
        with pytest.raises(DecryptionError):
            jwe.decrypt_compact(_replace(token, index, raw), key, algorithms=["A128KW"])


def test_cbc_tag_checked_in_constant_time_before_decrypting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = key_for("A128KW")
    token = jwe.encrypt_compact(b"attack at dawn" * 3, key, enc="A128CBC-HS256")
    compared: list[bytes] = []
    decryptors: list[Any] = []
    real_compare, real_cipher = _jwe_content.hmac.compare_digest, _jwe_content.Cipher

    def compare(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real_compare(a, b)

    class Cipher(real_cipher):  # type: ignore[misc, valid-type]
        def decryptor(self) -> Any:
            decryptors.append(self)
            return super().decryptor()

    monkeypatch.setattr(_jwe_content.hmac, "compare_digest", compare)
    monkeypatch.setattr(_jwe_content, "Cipher", Cipher)
    ciphertext = bytearray(b64decode(token.split(".")[3]))
    ciphertext[-1] ^= 1  # Breaks the padding, the classic oracle.
    with pytest.raises(DecryptionError):
        jwe.decrypt_compact(_replace(token, 3, bytes(ciphertext)), key, algorithms=["A128KW"])
    assert len(compared) == 1
    assert decryptors == []  # Nothing was decrypted for a forged ciphertext.
    assert jwe.decrypt_compact(token, key, algorithms=["A128KW"]).plaintext.startswith(b"attack")
    assert len(decryptors) == 1


def test_every_decryption_failure_has_one_message() -> None:
    key, other = key_for("A128KW"), OctKey(os.urandom(16))
    token = jwe.encrypt_compact(b"x", key)
    failures = [
        lambda: jwe.decrypt_compact(token, other, algorithms=["A128KW"]),
        lambda: jwe.decrypt_compact(_replace(token, 4, bytes(16)), key, algorithms=["A128KW"]),
        lambda: jwe.decrypt_compact(_replace(token, 1, os.urandom(24)), key, algorithms=["A128KW"]),
    ]
    messages = set()
    for failure in failures:
        with pytest.raises(DecryptionError) as info:
            failure()
        messages.add(str(info.value))
    assert messages == {_jwe_content.DECRYPTION_FAILED}


# -- the caller chooses JWS or JWE -------------------------------------------------------------


def test_the_caller_chooses_jws_or_jwe() -> None:
    signing = generate("Ed25519", alg="EdDSA")
    encryption = key_for("ECDH-ES")
    signed = jwt.encode({"sub": "alice", "exp": 2**40}, signing)
    nested = jwt.encode({"sub": "alice", "exp": 2**40}, signing, encrypt_to=encryption.public())
    with pytest.raises(MalformedTokenError):
        jwt.decode(nested, signing.public())
    with pytest.raises(MalformedTokenError):
        jws.verify_compact(nested, signing.public())
    with pytest.raises(MalformedTokenError):
        jwe.decrypt_compact(signed, encryption, algorithms=["ECDH-ES"])
    with pytest.raises(MalformedTokenError):
        jwt.decode(signed, signing.public(), decrypt_with=encryption,
                   decryption_algorithms=["ECDH-ES"])  # fmt: skip
    assert jwt.decode(nested, signing.public(), decrypt_with=encryption,
                      decryption_algorithms=["ECDH-ES"])["sub"] == "alice"  # fmt: skip
