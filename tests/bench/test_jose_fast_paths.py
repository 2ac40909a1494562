"""The fast paths added for the benchmark answer exactly as the general paths do.

``jwt.encode`` caches per-key signing state, ``jwt.decode`` has a usual-case path (claims
checked inline) and ``jws`` one for headers it has seen before. Each case here is run through
both paths and must give the same token, the same claims or the same error and message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jot.jose import KeySet, _json, hazmat, jwk, jws, jwt
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


# -- key sets: the fast path takes the key found by kid when it fits without doubt --------


def _complete(token: str, keys: jwk.Key | KeySet, **options: Any) -> Any:
    verified = jwt.decode_complete(token, keys, now=NOW, **options)
    return (dict(verified.header), verified.claims, id(verified.key))


def _both_paths(token: str, keys: jwk.Key | KeySet, **options: Any) -> tuple[Any, Any, Any]:
    """The outcome with a header never seen (the general path), then seen (the fast path)."""
    jws._header_cache.clear()
    general = _outcome(lambda: _complete(token, keys, **options))
    usual = _outcome(lambda: _complete(token, keys, **options))
    claims = _outcome(lambda: jwt.decode(token, keys, now=NOW, **options))
    return general, usual, claims


@pytest.mark.parametrize("name", list(VARIANTS))
def test_keyset_decode_matches_the_general_path(key: jwk.Key, name: str) -> None:
    key.kid = "hs"
    others = [jwk.generate("Ed25519", kid="ed"), jwk.generate("P-256", kid="ec")]
    keys = KeySet([others[0].public(), key, others[1].public()])
    token = jwt.encode(_claims(VARIANTS[name]), key)
    for options in OPTIONS:
        general, usual, claims = _both_paths(token, keys, algorithms=["HS256", "EdDSA"], **options)
        assert general == usual, (name, options)
        assert claims == (general if general[0] != "ok" else ("ok", general[1][1])), name


def _token(signer: jwk.Key, alg: str | None = None, kid: object = "k1") -> str:
    headers = {"typ": "JWT", "kid": kid} if kid is not ABSENT else {"typ": "JWT", "kid": None}
    return jws.sign_compact(_json.dumps(BASE), signer, alg=alg, headers=headers)


def _cases() -> dict[str, tuple[str, KeySet, list[str]]]:
    ed = jwk.generate("Ed25519", kid="k1")
    ed448 = jwk.generate("Ed448", kid="k1")
    p256 = jwk.generate("P-256", kid="k1")
    weak = jwk.OctKey(b"short", kid="k1", weak_allowed=True)
    rsa = jwk.generate("RSA", size=2048, kid="k1")
    enc = jwk.import_key({**ed.public().to_dict(), "use": "enc"})
    bound = jwk.import_key({**ed.public().to_dict(), "alg": "Ed25519"})
    ops = jwk.import_key({**ed.public().to_dict(), "key_ops": ["sign"]})
    strict = jwk.OctKey(b"short", kid="k1")
    return {
        "found, fits": (_token(ed), KeySet([ed.public()]), ["EdDSA"]),
        "unknown kid": (_token(ed, kid="k2"), KeySet([ed.public()]), ["EdDSA"]),
        "no kid, one key": (_token(ed, kid=ABSENT), KeySet([ed.public()]), ["EdDSA"]),
        "no kid, two keys": (
            _token(ed, kid=ABSENT), KeySet([ed.public(), ed448.public()]), ["EdDSA"],
        ),
        # EdDSA takes either curve: the first Ed448 key with the kid is used, and fails.
        "EdDSA, Ed448 first": (_token(ed), KeySet([ed448.public(), ed.public()]), ["EdDSA"]),
        "other curve first": (
            _token(ed, alg="Ed25519"), KeySet([ed448.public(), ed.public()]), ["Ed25519"],
        ),
        "other curve only": (_token(ed, alg="Ed25519"), KeySet([ed448.public()]), ["Ed25519"]),
        "other family first": (
            _token(ed), KeySet([p256.public(), ed.public()]), ["EdDSA", "ES256"],
        ),
        "fully specified alg": (_token(ed, alg="Ed25519"), KeySet([ed.public()]), ["Ed25519"]),
        "bound to another alg": (_token(ed), KeySet([bound]), ["EdDSA", "Ed25519"]),
        "use enc": (_token(ed), KeySet([enc]), ["EdDSA"]),
        "key_ops sign only": (_token(ed), KeySet([ops]), ["EdDSA"]),
        "enc key first": (_token(ed), KeySet([enc, ed.public()]), ["EdDSA"]),
        "weak secret refused": (_token(weak, alg="HS256"), KeySet([strict]), ["HS256"]),
        "weak secret allowed": (_token(weak, alg="HS256"), KeySet([weak]), ["HS256"]),
        "rsa": (_token(rsa, alg="PS256"), KeySet([rsa.public()]), ["PS256", "RS256"]),
        "alg not allowed": (_token(ed), KeySet([ed.public()]), ["ES256"]),
        "bad signature": (_token(ed)[:-4] + "AAAA", KeySet([ed.public()]), ["EdDSA"]),
    }  # fmt: skip


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_keyset_cases_match_the_general_path(name: str) -> None:
    token, keys, algorithms = CASES[name]
    general, usual, claims = _both_paths(token, keys, algorithms=algorithms, audience="web")
    assert general == usual
    assert claims == (general if general[0] != "ok" else ("ok", general[1][1]))
    # verify_compact takes the same fast path.
    jws._header_cache.clear()
    first = _outcome(lambda: jws.verify_compact(token, keys, algorithms=algorithms).key)
    again = _outcome(lambda: jws.verify_compact(token, keys, algorithms=algorithms).key)
    assert first == again


def test_keyset_cases_cover_the_outcomes() -> None:
    outcomes = {name: _both_paths(t, k, algorithms=a, audience="web")[0][0] for name, (t, k, a)
                in CASES.items()}  # fmt: skip
    assert outcomes["found, fits"] == outcomes["other curve first"] == "ok"
    assert outcomes["unknown kid"] == outcomes["use enc"] == "KeyNotFoundError"
    assert outcomes["weak secret refused"] == "InvalidKeyError"
    assert outcomes["bad signature"] == outcomes["EdDSA, Ed448 first"] == "BadSignatureError"
    assert outcomes["other curve only"] == "KeyNotFoundError"


def test_the_keyset_fast_path_follows_changes_to_a_key() -> None:
    signer = jwk.generate("Ed25519", kid="k1")
    public = signer.public()
    keys = KeySet([public])
    token = _token(signer)
    assert jwt.decode(token, keys, algorithms=["EdDSA"], now=NOW, audience="web")
    public.use = "enc"
    with pytest.raises(JotError, match="not for verifying"):
        jwt.decode(token, keys, algorithms=["EdDSA"], now=NOW, audience="web")
    public.use = None
    public.alg = "ES256"
    with pytest.raises(JotError, match="bound to ES256"):
        jwt.decode(token, keys, algorithms=["EdDSA"], now=NOW, audience="web")


def test_the_cached_curve_follows_the_key_material() -> None:
    ed, ed448 = jwk.generate("Ed25519"), jwk.generate("Ed448")
    p256, p384 = jwk.generate("P-256"), jwk.generate("P-384")
    assert (ed.curve, ed.curve, p256.curve, p256.curve) == ("Ed25519",) * 2 + ("P-256",) * 2
    ed.crypto_key, p256.crypto_key = ed448.crypto_key, p384.crypto_key
    assert (ed.curve, p256.curve) == ("Ed448", "P-384")


def test_a_keyset_takes_the_fast_path_once_the_header_is_known() -> None:
    token, keys, algorithms = CASES["found, fits"]
    jwt.decode(token, keys, algorithms=algorithms, now=NOW, audience="web")
    allowed = jws._allowed(keys, algorithms)
    verified = jws._verify_usual(token, keys, allowed, jws.MAX_SIZE)
    assert verified is not None
    assert verified[2] is keys.get("k1")
    unknown, keys, _ = CASES["unknown kid"]
    assert jws._verify_usual(unknown, keys, allowed, jws.MAX_SIZE) is None
