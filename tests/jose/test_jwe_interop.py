"""Interop both ways with joserfc and jwcrypto, for every alg × enc pair each supports."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from joserfc import jwe as rfc_jwe
from joserfc.jwk import import_key as rfc_import_key
from jwcrypto import jwe as jc_jwe
from jwcrypto import jwk as jc_jwk

from jot.jose import jwe
from jot.jose.jwk import Key

from .jwe_support import ALG_KEYS, ENCS, SMALL_P2C, headers_for, key_for, recipient_key

PLAINTEXT = "Interop: the same bytes in and out. ✓".encode()

# RSA-OAEP-384/512 are jot's additions (RFC 9864 era); neither peer knows them.
JOSERFC_ALGS = [alg for alg in ALG_KEYS if alg not in ("RSA-OAEP-384", "RSA-OAEP-512")]
JWCRYPTO_ALGS = JOSERFC_ALGS


def _pairs(algs: list[str]) -> list[tuple[str, str]]:
    return list(itertools.product(algs, ENCS))


def _ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"{alg}/{enc}" for alg, enc in pairs]


def _password(key: Key) -> bytes:
    return bytes(key.crypto_key)


# -- joserfc -------------------------------------------------------------------------------------


def _rfc_key(key: Key) -> Any:
    if key.kty == "oct":
        return rfc_import_key(_password(key), "oct")
    return rfc_import_key(key.to_dict(private=key.is_private))


@pytest.mark.parametrize(("alg", "enc"), _pairs(JOSERFC_ALGS), ids=_ids(_pairs(JOSERFC_ALGS)))
def test_joserfc_decrypts_jot(alg: str, enc: str) -> None:
    token = jwe.encrypt_compact(
        PLAINTEXT, recipient_key(alg, enc), alg=alg, enc=enc, headers=headers_for(alg)
    )
    opened = rfc_jwe.decrypt_compact(token, _rfc_key(key_for(alg, enc)), algorithms=[alg, enc])
    assert opened.plaintext == PLAINTEXT


@pytest.mark.parametrize(("alg", "enc"), _pairs(JOSERFC_ALGS), ids=_ids(_pairs(JOSERFC_ALGS)))
def test_jot_decrypts_joserfc(alg: str, enc: str) -> None:
    header = {"alg": alg, "enc": enc, **headers_for(alg)}
    peer_key = _rfc_key(recipient_key(alg, enc))
    token = rfc_jwe.encrypt_compact(header, PLAINTEXT, peer_key, algorithms=[alg, enc])
    opened = jwe.decrypt_compact(token, key_for(alg, enc), algorithms=[alg])
    assert opened.plaintext == PLAINTEXT


# -- jwcrypto ------------------------------------------------------------------------------------


def _jc_key(key: Key) -> jc_jwk.JWK:
    if key.kty == "oct":
        return jc_jwk.JWK(kty="oct", k=key.to_dict(private=True)["k"])
    return jc_jwk.JWK(**key.to_dict(private=key.is_private))


@pytest.mark.parametrize(("alg", "enc"), _pairs(JWCRYPTO_ALGS), ids=_ids(_pairs(JWCRYPTO_ALGS)))
def test_jwcrypto_decrypts_jot(alg: str, enc: str) -> None:
    token = jwe.encrypt_compact(
        PLAINTEXT, recipient_key(alg, enc), alg=alg, enc=enc, headers=headers_for(alg)
    )
    opened = jc_jwe.JWE(algs=[alg, enc])
    opened.deserialize(token, key=_jc_key(key_for(alg, enc)))
    assert opened.payload == PLAINTEXT


@pytest.mark.parametrize(("alg", "enc"), _pairs(JWCRYPTO_ALGS), ids=_ids(_pairs(JWCRYPTO_ALGS)))
def test_jot_decrypts_jwcrypto(alg: str, enc: str) -> None:
    header = {"alg": alg, "enc": enc, **headers_for(alg)}
    sealed = jc_jwe.JWE(PLAINTEXT, protected=json.dumps(header), algs=[alg, enc])
    sealed.add_recipient(_jc_key(recipient_key(alg, enc)))
    opened = jwe.decrypt_compact(sealed.serialize(compact=True), key_for(alg, enc),
                                 algorithms=[alg])  # fmt: skip
    assert opened.plaintext == PLAINTEXT


# -- JSON serialization with several recipients and AAD ------------------------------------


_JSON_ALGS = ["RSA-OAEP-256", "ECDH-ES+A128KW", "A256GCMKW", "PBES2-HS256+A128KW"]


def test_jwcrypto_reads_jot_general_json() -> None:
    recipients = [jwe.Recipient(recipient_key(a), a, headers_for(a)) for a in _JSON_ALGS]
    obj = jwe.encrypt_json(PLAINTEXT, recipients, enc="A256CBC-HS512", aad=b"aad",
                           unprotected={"cty": "text/plain"})  # fmt: skip
    for alg in _JSON_ALGS:
        opened = jc_jwe.JWE(algs=[*_JSON_ALGS, "A256CBC-HS512"])
        opened.deserialize(json.dumps(obj), key=_jc_key(key_for(alg)))
        assert opened.payload == PLAINTEXT


def test_jot_reads_jwcrypto_general_json() -> None:
    sealed = jc_jwe.JWE(
        PLAINTEXT, protected=json.dumps({"enc": "A128GCM"}), aad=b"aad",
        unprotected=json.dumps({"cty": "text/plain"}), algs=[*_JSON_ALGS, "A128GCM"],
    )  # fmt: skip
    for alg in _JSON_ALGS:
        header = {"alg": alg, **({"p2c": SMALL_P2C} if alg.startswith("PBES2") else {})}
        sealed.add_recipient(_jc_key(recipient_key(alg)), header=json.dumps(header))
    obj = sealed.serialize()
    for alg in _JSON_ALGS:
        opened = jwe.decrypt_json(obj, key_for(alg), algorithms=[alg])
        assert (opened.plaintext, opened.aad, opened.header["cty"]) == (
            PLAINTEXT, b"aad", "text/plain"
        )  # fmt: skip


def test_joserfc_reads_jot_flattened_json() -> None:
    key = key_for("ECDH-ES")
    obj = jwe.encrypt_json(PLAINTEXT, [jwe.Recipient(key.public(), "ECDH-ES")], flatten=True,
                           aad=b"aad")  # fmt: skip
    opened = rfc_jwe.decrypt_json(obj, _rfc_key(key), algorithms=["ECDH-ES", "A256GCM"])
    assert opened.plaintext == PLAINTEXT


def test_compressed_both_ways() -> None:
    key = key_for("A128KW")
    token = jwe.encrypt_compact(PLAINTEXT * 20, key, zip="DEF")
    opened = jc_jwe.JWE()
    opened.deserialize(token, key=_jc_key(key))
    assert opened.payload == PLAINTEXT * 20
    sealed = jc_jwe.JWE(
        PLAINTEXT * 20, protected=json.dumps({"alg": "A128KW", "enc": "A256GCM", "zip": "DEF"})
    )
    sealed.add_recipient(_jc_key(key))
    result = jwe.decrypt_compact(sealed.serialize(compact=True), key, algorithms=["A128KW"],
                                 allow_zip=True)  # fmt: skip
    assert result.plaintext == PLAINTEXT * 20
