"""The algorithm table (jot.jose.jwa)."""

from __future__ import annotations

import pytest

from jot.jose import jwa, jwk
from jot.jose.errors import InvalidKeyError, UsageError

from .helpers import ALGORITHMS, private_key


def test_the_table_is_exactly_the_supported_algorithms() -> None:
    assert set(jwa.SIGNATURE_ALGORITHMS) == set(ALGORITHMS)
    for name, algorithm in jwa.SIGNATURE_ALGORITHMS.items():
        assert algorithm.name == name
        assert repr(algorithm) == f"<{type(algorithm).__name__} {name}>"


@pytest.mark.parametrize("name", ["none", "HS1", "hs256", "", None, 256, "RSA1_5", "ES256 "])
def test_get_algorithm_refuses_unknown_names(name: object) -> None:
    with pytest.raises(UsageError):
        jwa.get_algorithm(name)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_sign_and_verify_directly(alg: str) -> None:
    key = private_key(alg)
    algorithm = jwa.get_algorithm(alg)
    algorithm.check_key(key)
    signature = algorithm.sign(key, b"data")
    verifier = key if key.kty == "oct" else key.public()
    assert algorithm.verify(verifier, b"data", signature)
    assert not algorithm.verify(verifier, b"other", signature)


def _fits(algorithm: jwa.SignatureAlgorithm, key: jwk.Key) -> bool:
    if type(key) is not algorithm.key_type:
        return False
    if isinstance(algorithm, jwa.ECDSAAlgorithm):
        return key.curve == algorithm.curve
    if isinstance(algorithm, jwa.EdDSAAlgorithm):
        return key.curve in algorithm.curves
    return True


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_check_key_refuses_other_families_and_curves(alg: str) -> None:
    algorithm = jwa.get_algorithm(alg)
    for other in ALGORITHMS:
        key = private_key(other, bound=False)
        if not _fits(algorithm, key):
            with pytest.raises(UsageError):
                algorithm.check_key(key)
        elif (
            isinstance(algorithm, jwa.HMACAlgorithm)
            and len(key.crypto_key) < algorithm.min_key_size
        ):
            with pytest.raises(InvalidKeyError):
                algorithm.check_key(key)
        else:
            algorithm.check_key(key)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_check_key_refuses_a_key_bound_to_another_algorithm(alg: str) -> None:
    other = {"HS": "HS512", "RS": "PS256", "PS": "RS256"}.get(alg[:2], "HS256")
    with pytest.raises(UsageError, match="bound to"):
        jwa.get_algorithm(alg).check_key(
            jwk.import_key(private_key(alg, bound=False).crypto_key, alg=other)
            if not alg.startswith("HS")
            else jwk.OctKey(
                private_key(alg, bound=False).crypto_key, alg=other if alg != other else "HS256"
            )
        )


def test_eddsa_refuses_x25519_keys() -> None:
    key = jwk.generate("X25519")
    for name in ("EdDSA", "Ed25519", "Ed448"):
        with pytest.raises(UsageError):
            jwa.get_algorithm(name).check_key(key)


def test_default_algorithm() -> None:
    assert jwa.default_algorithm(private_key("PS256")) == "PS256"
    assert jwa.default_algorithm(private_key("PS256", bound=False)) == "RS256"
    assert jwa.default_algorithm(private_key("HS384", bound=False)) == "HS256"
    assert jwa.default_algorithm(private_key("Ed448", bound=False)) == "EdDSA"
    with pytest.raises(UsageError):
        jwa.default_algorithm(jwk.generate("X448"))


def test_base_class_is_abstract() -> None:
    base = jwa.SignatureAlgorithm()
    with pytest.raises(NotImplementedError):
        base.sign(private_key("HS256"), b"")
    with pytest.raises(NotImplementedError):
        base.verify(private_key("HS256"), b"", b"")
