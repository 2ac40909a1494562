"""The usual paths (jot.jose._usual) answer exactly as the general paths do.

``jwt.encode`` keeps per-key signing state; ``jws.verify_compact`` and ``jwt.decode`` keep,
per keys and allow-list, the headers that verified; ``jwe.encrypt_compact`` and
``jwe.decrypt_compact`` keep the same per key (and the decrypting limits). Each case here is run
with every cache empty (the general path) and again once it is filled (the usual path), and
must give the same token, the same claims or the same error and message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from jot.jose import KeySet, _json, _usual, hazmat, jwe, jwk, jws, jwt
from jot.jose._b64 import b64decode
from jot.jose._jwe import keys as jwe_keys
from jot.jose._jwe.sealing import seal
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
        _usual.clear()  # The first call takes the general path, the second the usual one.
        first = _outcome(lambda o=options: jwt.decode(token, key, now=NOW, **o))
        usual = _outcome(lambda o=options: jwt.decode(token, key, now=NOW, **o))
        general = _outcome(lambda o=options: jwt.decode_complete(token, key, now=NOW, **o).claims)
        assert first == usual == general, (name, options)


def test_tampered_tokens_fail_alike_on_both_paths(key: jwk.Key) -> None:
    token = jwt.encode(BASE, key)
    for index in range(0, len(token), 7):
        for char in "A_.-é=":
            tampered = token[:index] + char + token[index + 1 :]
            _usual.clear()
            first = _outcome(lambda t=tampered: jwt.decode(t, key, now=NOW, audience="web"))
            again = _outcome(lambda t=tampered: jwt.decode(t, key, now=NOW, audience="web"))
            assert first == again, tampered


def test_the_signer_cache_checks_each_key_of_the_same_material() -> None:
    key = jwk.generate("Ed25519")
    jwt.encode(BASE, key)
    renamed = jwk.import_key(key, kid="renamed")
    assert hazmat.decode_unverified(jwt.encode(BASE, renamed)).header["kid"] == "renamed"
    with pytest.raises(JotError, match="do not allow signing"):
        jwt.encode(BASE, jwk.OKPKey(key.crypto_key, key_ops=["verify"]))
    with pytest.raises(JotError, match="needs a EC key"):
        jwt.encode(BASE, jwk.import_key(key, alg="ES256"))
    assert hazmat.decode_unverified(jwt.encode(BASE, key)).header["kid"] == key.kid


def test_the_allow_list_cache_follows_the_key_and_the_list(key: jwk.Key) -> None:
    verifier = jwk.import_key(key.to_dict(private=True))
    token = jwt.encode(BASE, key)
    assert jwt.decode(token, verifier, algorithms=["HS256"], now=NOW, audience="web")
    for_encryption = jwk.import_key(verifier, use="enc")
    with pytest.raises(JotError, match="do not allow verifying"):
        jwt.decode(token, for_encryption, algorithms=["HS256"], now=NOW, audience="web")
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
    _usual.clear()
    general = _outcome(lambda: _complete(token, keys, **options))
    usual = _outcome(lambda: _complete(token, keys, **options))
    claims = _outcome(lambda: jwt.decode(token, keys, now=NOW, **options))
    return general, usual, claims


@pytest.mark.parametrize("name", list(VARIANTS))
def test_keyset_decode_matches_the_general_path(key: jwk.Key, name: str) -> None:
    key = jwk.import_key(key, kid="hs")
    others = [jwk.generate("Ed25519", kid="ed"), jwk.generate("P-256", kid="ec")]
    keys = KeySet([others[0].public(), key, others[1].public()], allow_mixed=True)
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
    _usual.clear()
    first = _outcome(lambda: jws.verify_compact(token, keys, algorithms=algorithms).key)
    again = _outcome(lambda: jws.verify_compact(token, keys, algorithms=algorithms).key)
    assert first == again


def test_keyset_cases_cover_the_outcomes() -> None:
    outcomes = {name: _both_paths(t, k, algorithms=a, audience="web")[0][0] for name, (t, k, a)
                in CASES.items()}  # fmt: skip
    assert outcomes["found, fits"] == "ok"
    assert outcomes["unknown kid"] == outcomes["use enc"] == "KeyNotFoundError"
    # A kid that two keys share selects neither.
    assert outcomes["other curve first"] == outcomes["EdDSA, Ed448 first"] == "KeyNotFoundError"
    assert outcomes["weak secret refused"] == "InvalidKeyError"
    assert outcomes["bad signature"] == "BadSignatureError"
    assert outcomes["other curve only"] == "KeyNotFoundError"


def test_the_keyset_fast_path_checks_each_key_set() -> None:
    signer = jwk.generate("Ed25519", kid="k1")
    public = signer.public()
    token = _token(signer)
    assert jwt.decode(token, KeySet([public]), algorithms=["EdDSA"], now=NOW, audience="web")
    for_encryption = KeySet([jwk.import_key(public, use="enc")])
    with pytest.raises(JotError, match="not for verifying"):
        jwt.decode(token, for_encryption, algorithms=["EdDSA"], now=NOW, audience="web")
    bound = KeySet([jwk.import_key(public, alg="ES256")])
    with pytest.raises(JotError, match="bound to ES256"):
        jwt.decode(token, bound, algorithms=["EdDSA"], now=NOW, audience="web")


def test_the_cached_curve_is_the_keys_own() -> None:
    kinds = ["Ed25519", "Ed448", "X25519", "P-256", "P-384", "P-521"]
    keys = [jwk.generate(kind) for kind in kinds]
    assert [key.curve for key in keys] == [key.curve for key in keys] == kinds


def test_a_keyset_takes_the_fast_path_once_the_header_is_known() -> None:
    token, keys, algorithms = CASES["found, fits"]
    _usual.clear()
    assert _usual.verify(token, keys, algorithms, jws.MAX_SIZE) is None
    jwt.decode(token, keys, algorithms=algorithms, now=NOW, audience="web")
    verified = _usual.verify(token, keys, algorithms, jws.MAX_SIZE)
    assert verified is not None
    assert verified[2] is keys.get("k1")
    assert _usual.verify(token, keys, ("EdDSA",), jws.MAX_SIZE) is None  # Another list.
    unknown, other_keys, _ = CASES["unknown kid"]
    assert _usual.verify(unknown, other_keys, algorithms, jws.MAX_SIZE) is None


# -- JWE: the usual compact encryption and decryption -------------------------------------
#
# jwe.encrypt_compact and jwe.decrypt_compact have a path for the usual call (one key, the
# default options, a header seen before) that skips the general one. Each case is run with
# every JWE cache empty (the general path) and again once a valid token has filled them (the
# usual path); both must give the same result or the same error and message.

JWE_ROWS = [
    ("dir", "A256GCM", "oct"),
    ("dir", "A128CBC-HS256", "oct"),
    ("A256KW", "A256CBC-HS512", "oct"),
    ("A128KW", "A128GCM", "oct"),
    ("RSA-OAEP-256", "A256GCM", "RSA"),
    ("ECDH-ES", "A256GCM", "P-256"),  # A header with a fresh epk: never a usual entry.
]
_JWE_KEY_SIZES = {"dir": {"A256GCM": 256, "A128CBC-HS256": 256}, "A256KW": 256, "A128KW": 128}


def _clear_jwe_caches() -> None:
    _usual.clear()


def _opening_known(keys: Any, protected: str) -> bool:
    opener = _usual._openers.find(keys)
    return opener is not None and protected in opener.headers


def _jwe_key(alg: str, enc: str, kind: str, bound: bool = True, kid: str | None = None) -> jwk.Key:
    """A key for the row, bound to its ``alg`` (then the default allow-list takes it) or not."""
    if kind == "RSA":
        return _rsa_jwe_key(alg if bound else None)
    size: Any = _JWE_KEY_SIZES.get(alg)
    size = size[enc] if isinstance(size, dict) else size
    return jwk.generate(kind, size=size, use="enc", alg=alg if bound else None, kid=kid)


_RSA_MATERIAL: list[jwk.Key] = []


def _rsa_jwe_key(alg: str | None) -> jwk.Key:
    if not _RSA_MATERIAL:  # RSA generation is slow: one key for the whole module.
        _RSA_MATERIAL.append(jwk.generate("RSA", size=2048))
    return jwk.import_key({**_RSA_MATERIAL[0].to_dict(private=True), "use": "enc",
                           **({"alg": alg} if alg else {})})  # fmt: skip


def _opened(call: Callable[[], jwe.DecryptedJWE]) -> tuple[str, Any]:
    def summary() -> Any:
        opened = call()
        assert type(opened) is jwe.DecryptedJWE
        return (dict(opened.header), opened.plaintext, id(opened.key), opened.aad)

    return _outcome(summary)


def _general_then_usual(
    token: Any, keys: Any, warm: str, **options: Any
) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """The outcome with every cache empty, then once ``warm`` was decrypted with ``keys``
    (with the default options and with these, if they allow it)."""
    _clear_jwe_caches()
    general = _opened(lambda: jwe.decrypt_compact(token, keys, **options))
    _clear_jwe_caches()
    if isinstance(keys, jwk.Key) and keys.alg is not None:
        jwe.decrypt_compact(warm, keys)
    _outcome(lambda: jwe.decrypt_compact(warm, keys, **options))
    usual = _opened(lambda: jwe.decrypt_compact(token, keys, **options))
    return general, usual


def _rows() -> list[Any]:
    return [pytest.param(*row, id=f"{row[0]}+{row[1]}") for row in JWE_ROWS]


@pytest.mark.parametrize(("alg", "enc", "kind"), _rows())
@pytest.mark.parametrize("bound", [True, False], ids=["bound", "algorithms"])
def test_usual_decrypt_matches_the_general_path(
    alg: str, enc: str, kind: str, bound: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _jwe_key(alg, enc, kind, bound)
    options: dict[str, Any] = {} if bound else {"algorithms": [alg]}
    recipient = key.public() if kind != "oct" else key
    token = jwe.encrypt_compact(b"secret" * 40, recipient, alg=alg, enc=enc)
    general, usual = _general_then_usual(token, key, token, **options)
    assert general == usual
    assert general[0] == "ok"
    protected = token.split(".")[0]
    assert _opening_known(key, protected) is (alg != "ECDH-ES")
    if alg != "ECDH-ES":  # The usual path does not go near the general one.
        monkeypatch.setattr(jwe, "open_compact", None)
        monkeypatch.setattr(jwe, "limits", None)
        monkeypatch.setattr(_usual, "open_compact", None)
        assert _opened(lambda: jwe.decrypt_compact(token, key, **options)) == usual


def _tampered(token: str) -> list[str]:
    """Tokens that differ from ``token`` in one character, and odd shapes of it."""
    protected, encrypted_key, iv, ciphertext, tag = token.split(".")
    cases = [
        ".".join((protected, "", iv, ciphertext, tag)),
        ".".join((protected, "AAAA", iv, ciphertext, tag)),
        ".".join((protected, "A" * 5000, iv, ciphertext, tag)),
        ".".join((protected, encrypted_key, iv + "AAAA", ciphertext, tag)),
        ".".join((protected, encrypted_key, iv[:-4], ciphertext, tag)),
        ".".join((protected, encrypted_key, "A" * 100, ciphertext, tag)),
        ".".join((protected, encrypted_key, iv, ciphertext, tag[:-1])),
        ".".join((protected, encrypted_key, iv, ciphertext, tag + "AA")),
        ".".join((protected, encrypted_key, iv, ciphertext, "A" * 200)),
        ".".join((protected, encrypted_key, iv, "", tag)),
        ".".join((protected, encrypted_key, iv, ciphertext[:-1], tag)),
        ".".join((protected, encrypted_key, iv, ciphertext, tag, "")),
        ".".join((protected, encrypted_key, iv, ciphertext)),
        token + ".",
        token.replace(".", "..", 1),
    ]
    for index in range(0, len(token), 5):
        for char in "A_.-é=":
            cases.append(token[:index] + char + token[index + 1 :])
    return cases


@pytest.mark.parametrize(("alg", "enc", "kind"), _rows())
def test_tampered_jwe_fail_alike_on_both_paths(alg: str, enc: str, kind: str) -> None:
    key = _jwe_key(alg, enc, kind)
    recipient = key.public() if kind != "oct" else key
    token = jwe.encrypt_compact(b"secret" * 40, recipient, alg=alg, enc=enc)
    outcomes = set()
    for tampered in _tampered(token):
        general, usual = _general_then_usual(tampered, key, token)
        assert general == usual, tampered
        outcomes.add(general[0])
    assert {"MalformedTokenError", "DecryptionError"} <= outcomes


def test_odd_calls_take_the_general_path_and_answer_alike() -> None:
    key = jwk.generate("oct", size=256, alg="dir", use="enc")
    token = jwe.encrypt_compact(b"x", key)
    calls: list[tuple[Any, dict[str, Any]]] = [
        (token.encode("ascii"), {}),
        (token, {"max_size": len(token) - 1}),
        (token, {"encryptions": ["A256GCM"]}),
        (token, {"encryptions": []}),
        (token, {"crit": ["x-private"]}),
        (token, {"allow_zip": True}),
        (token, {"max_inflated_size": 0}),
        (token, {"max_p2c": 0}),
        (token, {"algorithms": ["dir"]}),
        (token, {"algorithms": ("dir",)}),
        (token, {"algorithms": {"dir"}}),
        (token, {"algorithms": ["dir", "A256KW"]}),
        (token, {"algorithms": []}),
        (None, {}),
    ]
    for candidate, options in calls:
        general, usual = _general_then_usual(candidate, key, token, **options)
        assert general == usual, options
    # Another key, and a key set with that key: never the entry made for the key alone.
    other = jwk.import_key(key.to_dict(private=True))
    for keys in (other, KeySet([key])):
        _clear_jwe_caches()
        jwe.decrypt_compact(token, key)
        assert jwe.decrypt_compact(token, keys).key is (other if keys is other else key)


def _like(key: jwk.Key, secret: bytes | None = None, **binding: Any) -> jwk.Key:
    """Another key like ``key``: the same kid and binding but for ``binding``."""
    same = {"alg": key.alg, "use": key.use, "key_ops": key.key_ops, "kid": key.kid}
    return jwk.OctKey(key.crypto_key if secret is None else secret, **(same | binding))


# Keys that look like the cached one (same kid; same secret but the last two).
_OTHER_KEYS: dict[str, Callable[[jwk.Key], jwk.Key]] = {
    "kid": lambda key: _like(key, kid="renamed"),
    "use sig": lambda key: _like(key, use="sig"),
    "key_ops encrypt": lambda key: _like(key, use=None, key_ops=["encrypt"]),
    "key_ops decrypt": lambda key: _like(key, use=None, key_ops=["decrypt"]),
    "alg A256KW": lambda key: _like(key, alg="A256KW"),
    "alg A128GCM": lambda key: _like(key, alg="A128GCM"),
    "other secret": lambda key: _like(key, os.urandom(32)),
    "shorter secret": lambda key: _like(key, os.urandom(16)),
}


@pytest.mark.parametrize("other", list(_OTHER_KEYS))
def test_the_usual_decrypt_is_for_the_key_that_made_it(other: str) -> None:
    key = jwk.generate("oct", size=256, alg="dir", use="enc")
    token = jwe.encrypt_compact(b"x", key)
    _clear_jwe_caches()
    assert jwe.decrypt_compact(token, key).plaintext == b"x"  # Cached; then another key:
    lookalike = _OTHER_KEYS[other](key)
    usual = _opened(lambda: jwe.decrypt_compact(token, lookalike))
    _clear_jwe_caches()
    assert usual == _opened(lambda: jwe.decrypt_compact(token, lookalike))


def test_the_usual_decrypt_follows_changes_to_the_list() -> None:
    key = jwk.generate("oct", size=256, alg="dir", use="enc")
    token = jwe.encrypt_compact(b"x", key)
    algorithms = ["dir"]
    _clear_jwe_caches()
    assert jwe.decrypt_compact(token, key, algorithms=algorithms).plaintext == b"x"
    algorithms.append("A256KW")  # The caller's list changed: checked again, and refused.
    with pytest.raises(JotError, match="bound to dir, not A256KW"):
        jwe.decrypt_compact(token, key, algorithms=algorithms)


class _Counter(jwe_keys.Entropy):
    """The same bytes as _counting_urandom, for the general path."""

    def random(self, size: int, purpose: str) -> bytes:
        return _counting_urandom(size)


_COUNT = [0]


def _counting_urandom(size: int) -> bytes:
    _COUNT[0] += 1
    return bytes((_COUNT[0] + i) % 256 for i in range(size))


@pytest.mark.parametrize(("alg", "enc", "kind"), [p for p in _rows() if "RSA" not in p.id
                                                 and "ECDH" not in p.id])  # fmt: skip
def test_usual_encrypt_gives_the_general_token(
    alg: str, enc: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "urandom", _counting_urandom)
    monkeypatch.setattr(_usual, "urandom", _counting_urandom)
    key = _jwe_key(alg, enc, kind, kid="k1")
    _clear_jwe_caches()
    tokens = []
    for _ in range(3):  # General, usual, usual.
        _COUNT[0] = 0
        tokens.append(jwe.encrypt_compact(b"secret" * 40, key, alg=alg, enc=enc))
    assert _usual._sealers.find(key) is not None
    _COUNT[0] = 0
    protected = {"alg": None, "kid": "k1"}
    general = seal(b"secret" * 40, [jwe.Recipient(key, alg)], enc, protected, {}, None, None,
                   _Counter()).compact()  # fmt: skip
    assert tokens == [general] * 3


@pytest.mark.parametrize("alg", ["ECDH-ES", "ECDH-ES+A128KW", "PBES2-HS256+A128KW"])
def test_usual_encrypt_with_a_per_token_header_writes_the_general_header(alg: str) -> None:
    key = jwe.password_key("pw", alg=alg, kid="k1") if alg.startswith("PBES2") else (
        jwk.generate("P-256", kid="k1", use="enc"))  # fmt: skip
    recipient = key if alg.startswith("PBES2") else key.public()
    _clear_jwe_caches()
    headers = [_json.loads(b64decode(jwe.encrypt_compact(b"x", recipient, alg=alg).split(".")[0]))
               for _ in range(2)]  # fmt: skip
    assert _usual._sealers.find(recipient) is not None
    assert [list(header) for header in headers] == [list(headers[0])] * 2
    assert list(headers[0])[:2] == ["alg", "kid"]
    assert list(headers[0])[-1] == "enc"
    assert headers[0] != headers[1]  # A fresh epk or p2s for every token.


@pytest.mark.parametrize(("alg", "enc", "kind"), _rows())
def test_usual_encrypt_tokens_open_on_the_general_path(alg: str, enc: str, kind: str) -> None:
    key = _jwe_key(alg, enc, kind)
    recipient = key.public() if kind != "oct" else key
    _clear_jwe_caches()
    tokens = [jwe.encrypt_compact(b"secret", recipient, alg=alg, enc=enc) for _ in range(3)]
    sealer = _usual._sealers.find(recipient)
    assert sealer is not None
    assert bool(sealer.prefix) is (alg != "ECDH-ES")
    assert len({token.split(".")[0] for token in tokens}) == (1 if alg != "ECDH-ES" else 3)
    for token in tokens:
        _clear_jwe_caches()
        assert jwe.decrypt_compact(token, key).plaintext == b"secret"


def test_the_usual_encrypt_checks_each_key_and_call() -> None:
    key = jwk.generate("oct", size=256, alg="dir", use="enc", kid="k1")
    jwe.encrypt_compact(b"x", key)
    jwe.encrypt_compact(b"x", key)
    renamed = jwk.import_key(key, kid="renamed")
    header = _json.loads(b64decode(jwe.encrypt_compact(b"x", renamed).split(".")[0]))
    assert header["kid"] == "renamed"
    for call, error in [
        (lambda: jwe.encrypt_compact(bytearray(b"x"), key), "plaintext must be bytes"),
        (lambda: jwe.encrypt_compact(b"x", key, enc="A128GCM"), "needs a 16-byte key"),
        (lambda: jwe.encrypt_compact(b"x", key, alg="A256KW"), "bound to dir"),
    ]:
        with pytest.raises(JotError, match=error):
            call()
    with pytest.raises(JotError, match="do not allow encrypting"):
        jwe.encrypt_compact(b"x", jwk.import_key(key, use="sig"))


def test_the_usual_decrypt_builds_the_named_tuple() -> None:
    key = jwk.generate("oct", size=256, alg="dir")
    token = jwe.encrypt_compact(b"x", key)
    _clear_jwe_caches()
    general = jwe.decrypt_compact(token, key)
    usual = jwe.decrypt_compact(token, key)
    assert type(usual) is type(general) is jwe.DecryptedJWE
    assert usual == general == (general.header, b"x", key, None)
    assert (usual.plaintext, usual.key, usual.aad) == (b"x", key, None)
    with pytest.raises(AttributeError):
        usual.plaintext = b"y"  # type: ignore[misc]


# -- the caches: bounded, and an entry is for its own keys and list --------------------------


def test_every_cache_stays_bounded() -> None:
    _usual.clear()
    keys = [jwk.OctKey(os.urandom(32), kid=str(i), alg="HS256") for i in range(_usual.SIZE + 44)]
    for key in keys:
        assert jwt.decode(jwt.encode(BASE, key), key, now=NOW, audience="web")["sub"] == "u1"
        wrapping = jwk.OctKey(key.crypto_key, kid=key.kid, alg="A256KW", use="enc")
        token = jwe.encrypt_compact(b"x", wrapping)
        assert jwe.decrypt_compact(token, wrapping).plaintext == b"x"
    caches = (_usual._signers, _usual._verifiers, _usual._sealers, _usual._openers)
    assert all(0 < len(cache) <= _usual.SIZE for cache in caches)
    # One verifier's headers are bounded too: each kid makes another header.
    key_set = KeySet(keys)
    for key in keys:
        assert jwt.decode(jwt.encode(BASE, key), key_set, now=NOW, audience="web")["sub"] == "u1"
    verifier = _usual._verifiers.find(key_set)
    assert verifier is not None
    assert 0 < len(verifier.headers) <= _usual.SIZE


def test_an_entry_is_found_only_for_its_own_keys() -> None:
    cache: _usual.Cache[_usual.Verifier] = _usual.Cache()
    key = jwk.generate("oct", size=256)
    entry = cache.keep(_usual.Verifier(key, None, {}))
    assert cache.find(key) is entry
    assert cache.find(jwk.import_key(key)) is None  # Equal, but another object.
    assert cache.find(object()) is None


def test_unusual_allow_lists_are_never_kept() -> None:
    key = jwk.generate("oct", size=256, alg="HS256")
    token = jwt.encode(BASE, key)
    _usual.clear()
    for algorithms in ({"HS256"}, frozenset({"HS256"}), ("HS256",), ["HS256"], None):
        assert jwt.decode(token, key, algorithms=algorithms, now=NOW, audience="web")
    assert _usual.verify(token, key, None, jws.MAX_SIZE) is not None
    assert _usual.verify(token, key, {"HS256"}, jws.MAX_SIZE) is None
    _usual.clear()
    assert jwt.decode(token, key, algorithms={"HS256"}, now=NOW, audience="web")
    assert _usual._verifiers.find(key) is None
    sealed = jwk.generate("oct", size=256, alg="A256KW", use="enc")
    encrypted = jwe.encrypt_compact(b"x", sealed)
    assert jwe.decrypt_compact(encrypted, sealed, algorithms={"A256KW"}).plaintext == b"x"
    assert _usual._openers.find(sealed) is None
