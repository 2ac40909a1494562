"""Interoperability both ways with PyJWT, joserfc, jwcrypto and python-jose.

Our tokens verify there and theirs verify here, for every algorithm each library supports;
our JWK and JWKS exports load there and give the same thumbprints.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable
from typing import Any

import jose.jwk as ojwk
import jose.jwt as ojwt
import jwt as pyjwt
import pytest
from joserfc import jwk as fjwk
from joserfc import jwt as fjwt
from jwcrypto import jwk as cjwk
from jwcrypto import jwt as cjwt

from jot.jose import KeySet, jwk, jwt
from jot.jose._b64 import b64encode_str
from jot.jose.errors import InvalidAudienceError
from jot.jose.jwk import Key

from .helpers import ALGORITHMS, private_key

NOW = 1_800_000_000
CLAIMS = {"sub": "alice", "iss": "https://auth.example", "aud": "web", "exp": NOW + 300,
          "iat": NOW, "groups": ["dev", "ops"], "name": "Zoë"}  # fmt: skip

PYJWT = [a for a in ALGORITHMS if a not in ("Ed25519", "Ed448")]
JOSERFC = list(ALGORITHMS)
JWCRYPTO = list(ALGORITHMS)
PYTHON_JOSE = [
    a for a in ALGORITHMS if a.startswith(("HS", "RS")) or a in ("ES256", "ES384", "ES512")
]


def _verifier(alg: str) -> Key:
    key = private_key(alg)
    return key if key.kty == "oct" else key.public()


def _jwk(key: Key) -> dict[str, Any]:
    return key.to_dict(private=key.kty == "oct" or key.is_private)


@functools.cache
def _their_key(library: str, alg: str, private: bool) -> Any:
    """The library's own key object, made once: RSA key checks take ~0.3 s each."""
    key = private_key(alg) if private else _verifier(alg)
    if library == "jwcrypto":
        return cjwk.JWK(**_jwk(key)) if key.kty == "oct" else cjwk.JWK.from_pyca(key.crypto_key)
    if library == "joserfc":
        if key.kty in ("oct", "OKP", "EC"):
            return fjwk.import_key(_jwk(key))
        return fjwk.import_key(key.to_pem(private=private) if private else key.to_pem())
    return ojwk.construct(_jwk(key), algorithm=alg)


# -- our tokens there ---------------------------------------------------------------------------


def _pyjwt_verify(token: str, alg: str) -> dict[str, Any]:
    key = _verifier(alg)
    result: dict[str, Any] = pyjwt.decode(
        token, key.crypto_key, algorithms=[alg], audience="web", issuer="https://auth.example",
        options={"verify_exp": False, "verify_iat": False},
    )  # fmt: skip
    return result


def _joserfc_verify(token: str, alg: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # joserfc warns that "EdDSA" is deprecated by RFC 9864.
        result = fjwt.decode(token, _their_key("joserfc", alg, False), algorithms=[alg])
    return dict(result.claims)


def _jwcrypto_verify(token: str, alg: str) -> dict[str, Any]:
    key = _their_key("jwcrypto", alg, False)
    checked = cjwt.JWT(jwt=token, key=key, algs=[alg], check_claims=False)
    return dict(json.loads(checked.claims))


def _python_jose_verify(token: str, alg: str) -> dict[str, Any]:
    result: dict[str, Any] = ojwt.decode(
        token, _their_key("python-jose", alg, False), algorithms=[alg], audience="web",
        issuer="https://auth.example", options={"verify_exp": False, "verify_iat": False},
    )  # fmt: skip
    return result


THEIR_VERIFIERS: list[Any] = [
    *(pytest.param(_pyjwt_verify, a, id=f"pyjwt-{a}") for a in PYJWT),
    *(pytest.param(_joserfc_verify, a, id=f"joserfc-{a}") for a in JOSERFC),
    *(pytest.param(_jwcrypto_verify, a, id=f"jwcrypto-{a}") for a in JWCRYPTO),
    *(pytest.param(_python_jose_verify, a, id=f"python-jose-{a}") for a in PYTHON_JOSE),
]


@pytest.mark.parametrize(("verify", "alg"), THEIR_VERIFIERS)
def test_our_tokens_verify_there(verify: Callable[[str, str], dict[str, Any]], alg: str) -> None:
    token = jwt.encode(CLAIMS, private_key(alg))
    assert verify(token, alg) == CLAIMS


@pytest.mark.parametrize(("verify", "alg"), THEIR_VERIFIERS)
def test_our_tampered_tokens_fail_there(
    verify: Callable[[str, str], dict[str, Any]], alg: str
) -> None:
    token = jwt.encode(CLAIMS, private_key(alg))
    head, _, signature = token.split(".")
    forged = f"{head}.{jwt_body({**CLAIMS, 'sub': 'mallory'})}.{signature}"
    with pytest.raises(Exception):  # each library has its own error types
        verify(forged, alg)


def jwt_body(claims: dict[str, Any]) -> str:
    return b64encode_str(json.dumps(claims).encode())


# -- their tokens here --------------------------------------------------------------------------


def _pyjwt_sign(alg: str) -> str:
    key = private_key(alg)
    return pyjwt.encode(CLAIMS, key.crypto_key, algorithm=alg, headers={"kid": key.kid})


def _joserfc_sign(alg: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        key = _their_key("joserfc", alg, True)
        return fjwt.encode({"alg": alg, "kid": private_key(alg).kid}, CLAIMS, key, algorithms=[alg])


def _jwcrypto_sign(alg: str) -> str:
    token = cjwt.JWT(header={"alg": alg, "kid": private_key(alg).kid}, claims=CLAIMS)
    token.make_signed_token(_their_key("jwcrypto", alg, True))
    return str(token.serialize())


def _python_jose_sign(alg: str) -> str:
    key = private_key(alg)
    their_key = _their_key("python-jose", alg, True)
    return str(ojwt.encode(CLAIMS, their_key, algorithm=alg, headers={"kid": key.kid}))


THEIR_SIGNERS: list[Any] = [
    *(pytest.param(_pyjwt_sign, a, id=f"pyjwt-{a}") for a in PYJWT),
    *(pytest.param(_joserfc_sign, a, id=f"joserfc-{a}") for a in JOSERFC),
    *(pytest.param(_jwcrypto_sign, a, id=f"jwcrypto-{a}") for a in JWCRYPTO),
    *(pytest.param(_python_jose_sign, a, id=f"python-jose-{a}") for a in PYTHON_JOSE),
]


@pytest.mark.parametrize(("sign", "alg"), THEIR_SIGNERS)
def test_their_tokens_verify_here(sign: Callable[[str], str], alg: str) -> None:
    token = sign(alg)
    options: dict[str, Any] = {"issuer": "https://auth.example", "audience": "web", "now": NOW}
    assert jwt.decode(token, _verifier(alg), **options) == CLAIMS
    assert jwt.decode(token, KeySet([_verifier(alg)]), **options) == CLAIMS
    with pytest.raises(InvalidAudienceError):
        jwt.decode(token, _verifier(alg), **{**options, "audience": "db"})


# -- keys ---------------------------------------------------------------------------------------

KINDS = ["oct", "RSA", "P-256", "P-384", "P-521", "secp256k1", "Ed25519", "Ed448", "X25519", "X448"]
_ALG_OF = {"oct": "HS256", "RSA": "RS256", "P-256": "ES256", "P-384": "ES384", "P-521": "ES512",
           "secp256k1": "ES256K", "Ed25519": "EdDSA", "Ed448": "Ed448"}  # fmt: skip


def _key(kind: str) -> Key:
    alg = _ALG_OF.get(kind)
    return private_key(alg, bound=False) if alg else jwk.generate(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_our_jwks_load_in_jwcrypto_with_the_same_thumbprint(kind: str) -> None:
    key = _key(kind)
    theirs = cjwk.JWK(**key.to_dict(private=True))
    assert theirs.thumbprint() == key.thumbprint()
    assert json.loads(theirs.export(private_key=True)) == key.to_dict(private=True)
    if kind != "oct":
        public = cjwk.JWK(**key.public().to_dict())
        assert public.thumbprint() == key.thumbprint()
        assert not public.has_private
    keyset = cjwk.JWKSet.from_json(json.dumps(KeySet([key]).to_dict(private=True)))
    assert keyset.get_key(key.kid) is not None


@pytest.mark.parametrize("kind", KINDS)
def test_our_jwks_load_in_joserfc_with_the_same_thumbprint(kind: str) -> None:
    key = _key(kind)
    theirs = fjwk.import_key(key.to_dict(private=True))
    assert theirs.thumbprint() == key.thumbprint()
    keyset = fjwk.KeySet.import_key_set(KeySet([key]).to_dict(private=True))
    assert len(keyset.keys) == 1
    if kind != "oct":
        assert fjwk.import_key(key.public().to_dict()).thumbprint() == key.thumbprint()


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("X25519", "X448")])
def test_our_jwks_load_in_pyjwt(kind: str) -> None:
    key = _key(kind)
    theirs = pyjwt.PyJWK(
        key.to_dict(private=True), algorithm=_ALG_OF[kind] if kind != "Ed448" else "EdDSA"
    )
    assert theirs.key_id == key.kid
    if kind not in ("oct", "Ed448"):  # PyJWKSet finds no algorithm for an unbound Ed448 key
        keyset = pyjwt.PyJWKSet.from_dict(KeySet([key]).to_dict())
        assert keyset[key.kid or ""].key_id == key.kid


@pytest.mark.parametrize("kind", ["oct", "RSA", "P-256", "P-384", "P-521"])
def test_our_jwks_load_in_python_jose(kind: str) -> None:
    key = _key(kind)
    theirs = ojwk.construct(key.to_dict(private=True), algorithm=_ALG_OF[kind])
    assert theirs.to_dict()["kty"] == key.kty


THEIR_KINDS = [("oct", {"size": 256}), ("RSA", {}), ("EC", {"crv": "P-256"}),
               ("EC", {"crv": "P-384"}), ("EC", {"crv": "P-521"}), ("EC", {"crv": "secp256k1"}),
               ("OKP", {"crv": "Ed25519"}), ("OKP", {"crv": "Ed448"}), ("OKP", {"crv": "X25519"}),
               ("OKP", {"crv": "X448"})]  # fmt: skip


@pytest.mark.parametrize(("kty", "options"), THEIR_KINDS)
def test_their_jwks_load_here_with_the_same_thumbprint(kty: str, options: dict[str, Any]) -> None:
    if kty == "RSA":
        theirs = cjwk.JWK.from_pyca(private_key("RS256", bound=False).crypto_key)
    else:
        theirs = cjwk.JWK.generate(kty=kty, **options)
    data = json.loads(theirs.export(private_key=True))
    key = jwk.import_key(data)
    assert key.thumbprint() == theirs.thumbprint()
    assert key.to_dict(private=True) == data
    if kty != "oct":
        public = jwk.import_key(json.loads(theirs.export_public()))
        assert public.thumbprint() == theirs.thumbprint()
        assert public == key.public()


def test_jwks_from_joserfc_loads_here() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generated = [
            fjwk.RSAKey.import_key(private_key("RS256", bound=False).to_dict(private=True)),
            fjwk.ECKey.generate_key("P-256"),
            fjwk.OKPKey.generate_key("Ed25519"),
            fjwk.OctKey.generate_key(256),
        ]
    for theirs in generated:
        theirs.ensure_kid()
    data = fjwk.KeySet(generated).as_dict(private=False)
    keys = KeySet.from_dict(data, allow_mixed=True)
    assert keys.rejected == ()
    for theirs in generated:
        assert keys.get(theirs.kid).thumbprint() == theirs.thumbprint()
