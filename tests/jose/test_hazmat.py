"""The hazmat layer: unverified decoding and weak keys, opt-in only (jot.jose.hazmat)."""

from __future__ import annotations

import pytest

from jot.jose import hazmat, jws, jwt
from jot.jose._b64 import b64encode_str
from jot.jose.errors import MalformedTokenError

from .helpers import private_key


def test_decode_unverified_shows_header_and_payload_without_checks() -> None:
    key = private_key("HS256")
    token = jwt.encode({"sub": "alice", "exp": 1}, key, typ="jot+jwt")
    header, payload = hazmat.decode_unverified(token)
    assert header == {"alg": "HS256", "kid": key.kid, "typ": "jot+jwt"}
    assert payload == {"sub": "alice", "exp": 1}  # expired, yet shown: nothing is checked
    tampered = token[:-4] + "AAAA"
    assert hazmat.decode_unverified(tampered).payload == payload
    assert hazmat.decode_unverified(f"  {token}\n".encode()).header == header


def test_decode_unverified_non_json_and_unencoded_payloads() -> None:
    key = private_key("HS256")
    assert hazmat.decode_unverified(jws.sign_compact(b"\x00\xff", key)).payload == b"\x00\xff"
    unencoded = jws.sign_compact(b"plain text", key, b64=False)
    assert hazmat.decode_unverified(unencoded).payload == b"plain text"


def test_decode_unverified_reads_a_jwe_header_only() -> None:
    header = b64encode_str(b'{"alg":"dir","enc":"A128GCM"}')
    result = hazmat.decode_unverified(f"{header}..AAAA.AAAA.AAAA")
    assert result.header == {"alg": "dir", "enc": "A128GCM"}
    assert result.payload is None


@pytest.mark.parametrize(
    "token", ["", "a.b", "a.b.c.d", "a.b.c.d.e.f", "e30=.e30.", "bm90IGpzb24.e30.", "W10.e30."]
)
def test_decode_unverified_still_needs_a_well_formed_token(token: str) -> None:
    with pytest.raises(MalformedTokenError):
        hazmat.decode_unverified(token)
