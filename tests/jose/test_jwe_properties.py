"""Property tests: every alg × enc pair round-trips; any modified byte is rejected."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jot.jose import jwe
from jot.jose._b64 import b64decode, b64encode_str
from jot.jose.errors import InvalidTokenError

from .jwe_support import ALG_KEYS, ENCS, headers_for, key_for, recipient_key

PAIRS = list(itertools.product(ALG_KEYS, ENCS))
_SETTINGS = settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize(("alg", "enc"), PAIRS, ids=[f"{a}/{e}" for a, e in PAIRS])
@_SETTINGS
@given(plaintext=st.binary(max_size=300))
def test_compact_round_trip(alg: str, enc: str, plaintext: bytes) -> None:
    token = jwe.encrypt_compact(
        plaintext, recipient_key(alg, enc), alg=alg, enc=enc, headers=headers_for(alg)
    )
    opened = jwe.decrypt_compact(token, key_for(alg, enc), algorithms=[alg])
    assert opened.plaintext == plaintext
    assert (opened.header["alg"], opened.header["enc"]) == (alg, enc)


@settings(max_examples=60, deadline=None)
@given(
    alg=st.sampled_from(sorted(ALG_KEYS)),
    enc=st.sampled_from(ENCS),
    plaintext=st.binary(max_size=100),
    aad=st.none() | st.binary(max_size=40),
    flatten=st.booleans(),
)
def test_json_round_trip(
    alg: str, enc: str, plaintext: bytes, aad: bytes | None, flatten: bool
) -> None:
    recipient = jwe.Recipient(recipient_key(alg, enc), alg, headers_for(alg))
    obj = jwe.encrypt_json(plaintext, [recipient], enc=enc, aad=aad, flatten=flatten)
    opened = jwe.decrypt_json(obj, key_for(alg, enc), algorithms=[alg])
    assert (opened.plaintext, opened.aad) == (plaintext, aad)


# Several recipients may not use a direct algorithm (dir, ECDH-ES).
_WRAPPING = sorted(alg for alg in ALG_KEYS if alg not in ("dir", "ECDH-ES"))


@settings(max_examples=25, deadline=None)
@given(
    algs=st.lists(st.sampled_from(_WRAPPING), min_size=2, max_size=4, unique=True),
    enc=st.sampled_from(ENCS),
    plaintext=st.binary(max_size=64),
)
def test_several_recipients_each_decrypt(algs: list[str], enc: str, plaintext: bytes) -> None:
    # PBES2's header parameters sit in each recipient's own header.
    recipients = [jwe.Recipient(recipient_key(a), a, headers_for(a)) for a in algs]
    obj = jwe.encrypt_json(plaintext, recipients, enc=enc)
    for alg in algs:
        assert jwe.decrypt_json(obj, key_for(alg), algorithms=[alg]).plaintext == plaintext


_PARTS = ("protected", "encrypted_key", "iv", "ciphertext", "tag")


@settings(max_examples=300, deadline=None)
@given(
    alg=st.sampled_from(sorted(ALG_KEYS)),
    enc=st.sampled_from(ENCS),
    part=st.sampled_from(_PARTS),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
    plaintext=st.binary(min_size=1, max_size=40),
)
def test_any_modified_byte_is_rejected(
    alg: str, enc: str, part: str, position: int, flip: int, plaintext: bytes
) -> None:
    token = jwe.encrypt_compact(
        plaintext, recipient_key(alg, enc), alg=alg, enc=enc, headers=headers_for(alg)
    )
    segments = token.split(".")
    index = _PARTS.index(part)
    raw = bytearray(b64decode(segments[index]))
    if not raw:  # The encrypted key of dir and ECDH-ES is empty: nothing to modify.
        return
    raw[position % len(raw)] ^= flip
    segments[index] = b64encode_str(bytes(raw))
    with pytest.raises(InvalidTokenError):
        jwe.decrypt_compact(".".join(segments), key_for(alg, enc), algorithms=[alg])
