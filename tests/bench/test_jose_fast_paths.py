"""The fast paths added for the benchmark answer exactly as the general paths do.

``jwt.encode`` caches per-key signing state, ``jwt.decode`` has a usual-case path (claims
checked inline) and ``jws`` one for headers it has seen before. Each case here is run through
both paths and must give the same token, the same claims or the same error and message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jot.jose import _json, hazmat, jwk, jws, jwt
from jot.jose.errors import JotError

NOW = 1_700_000_000
BASE: dict[str, Any] = {
    "iss": "https://a.example",
    "sub": "u1",
    "aud": "web",
    "iat": NOW,
    "nbf": NOW - 300,
    "exp": NOW + 300,
    "groups": ["a"],
}
ABSENT = object()
VARIANTS: dict[str, dict[str, Any]] = {
    "valid": {},
    "exp float": {"exp": NOW + 0.5},
    "exp bool": {"exp": True},
    "exp null": {"exp": None},
    "exp text": {"exp": "1"},
    "exp absent": {"exp": ABSENT},
    "expired": {"exp": NOW},
    "nbf future": {"nbf": NOW + 1},
    "nbf absent": {"nbf": ABSENT},
    "nbf null": {"nbf": None},
    "iat future": {"iat": NOW + 1},
    "iat float": {"iat": NOW - 0.5},
    "iss other": {"iss": "https://b.example"},
    "iss int": {"iss": 1},
    "iss null": {"iss": None},
    "iss absent": {"iss": ABSENT},
    "aud list": {"aud": ["db", "web"]},
    "aud other": {"aud": "db"},
    "aud null": {"aud": None},
    "aud int": {"aud": 1},
    "aud absent": {"aud": ABSENT},
    "sub int": {"sub": 1},
    "jti list": {"jti": []},
}
OPTIONS = [
    {"issuer": None, "audience": "web"},
    {"issuer": "https://a.example", "audience": "web"},
    {"issuer": ["https://b.example", "https://a.example"], "audience": ["web"]},
    {"issuer": "https://a.example", "audience": None},
    {"issuer": "", "audience": "web"},
    {"issuer": None, "audience": "web", "leeway": 1},
    {"issuer": None, "audience": "web", "require": ("exp", "jti")},
    {"issuer": None, "audience": "web", "typ": "JWT"},
    {"issuer": None, "audience": "web", "typ": "other"},
]


def _claims(variant: dict[str, Any]) -> dict[str, Any]:
    claims = {**BASE, **variant}
    return {name: value for name, value in claims.items() if value is not ABSENT}


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("ok", call())
    except JotError as exc:
        return (type(exc).__name__, str(exc))


@pytest.fixture(scope="module")
def key() -> jwk.Key:
    return jwk.generate("oct", size=256, alg="HS256")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_encode_matches_sign_compact(key: jwk.Key, name: str) -> None:
    claims = _claims(VARIANTS[name])
    general = jws.sign_compact(_json.dumps(claims), key, headers={"typ": "JWT"})
    assert jwt.encode(claims, key) == general
    assert jwt.encode(claims, key) == general  # The second call uses the cached signer.


@pytest.mark.parametrize("name", list(VARIANTS))
def test_decode_matches_the_general_path(key: jwk.Key, name: str) -> None:
    token = jwt.encode(_claims(VARIANTS[name]), key)
    for options in OPTIONS:
        jws._header_cache.clear()  # The first call parses the header: the general JWS path.
        first = _outcome(lambda o=options: jwt.decode(token, key, now=NOW, **o))
        usual = _outcome(lambda o=options: jwt.decode(token, key, now=NOW, **o))
        general = _outcome(lambda o=options: jwt.decode_complete(token, key, now=NOW, **o).claims)
        assert first == usual == general, (name, options)


def test_tampered_tokens_fail_alike_on_both_paths(key: jwk.Key) -> None:
    token = jwt.encode(BASE, key)
    for index in range(0, len(token), 7):
        for char in "A_.-é=":
            tampered = token[:index] + char + token[index + 1 :]
            jws._header_cache.clear()
            first = _outcome(lambda t=tampered: jwt.decode(t, key, now=NOW, audience="web"))
            again = _outcome(lambda t=tampered: jwt.decode(t, key, now=NOW, audience="web"))
            assert first == again, tampered


def test_the_signer_cache_follows_changes_to_the_key() -> None:
    key = jwk.generate("Ed25519")
    jwt.encode(BASE, key)
    key.kid = "renamed"
    assert hazmat.decode_unverified(jwt.encode(BASE, key)).header["kid"] == "renamed"
    key.key_ops = ("verify",)
    with pytest.raises(JotError, match="do not allow signing"):
        jwt.encode(BASE, key)
    key.key_ops = None
    key.alg = "ES256"
    with pytest.raises(JotError, match="needs a EC key"):
        jwt.encode(BASE, key)


def test_the_allow_list_cache_follows_changes_to_the_key(key: jwk.Key) -> None:
    verifier = jwk.import_key(key.to_dict(private=True))
    token = jwt.encode(BASE, key)
    assert jwt.decode(token, verifier, algorithms=["HS256"], now=NOW, audience="web")
    verifier.use = "enc"
    with pytest.raises(JotError, match="do not allow verifying"):
        jwt.decode(token, verifier, algorithms=["HS256"], now=NOW, audience="web")
    verifier.use = None
    algorithms = ["HS256"]
    assert jwt.decode(token, verifier, algorithms=algorithms, now=NOW, audience="web")
    algorithms.append("RS256")  # The caller's list changed: checked again, and refused.
    with pytest.raises(JotError, match="RS256 needs a RSA key"):
        jwt.decode(token, verifier, algorithms=algorithms, now=NOW, audience="web")
