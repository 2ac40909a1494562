"""RSA keys with the ROCA weakness (CVE-2017-15361) are refused on import, like short keys.

The vulnerable keys are made here the way Infineon's RSALib made them: each prime is
``k·M + (65537^a mod M)`` with ``M`` the product of the first 126 primes (RSALib's ``M`` for
2048-bit keys), ``k`` and ``a`` random. The safe ones are `cryptography`'s (OpenSSL's) and the
RFC 7515 A.2 key.
"""

from __future__ import annotations

import functools
import math
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jot.jose import hazmat, jwk
from jot.jose._roca import has_roca_fingerprint
from jot.jose.errors import InvalidKeyError

from .helpers import private_key, vector

E = 65537
_SMALL_PRIMES = [p for p in range(2, 710) if all(p % d for d in range(2, math.isqrt(p) + 1))]
M = math.prod(_SMALL_PRIMES[:126])  # 2, 3, …, 701


def _probably_prime(n: int, rng: random.Random) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(24):  # Miller–Rabin
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


# (k, a) of each prime, found by drawing random ones until k·M + (65537^a mod M) was a
# 1024-bit prime, as RSALib did. Rebuilding a prime from them costs one pow(); the search
# did not (seconds), so its results are written down here.
RSALIB_PRIMES = {
    1: ((7396223329707868, 6153531900016088306), (7888567349730688, 14065482962074487754)),
    2: ((8953488094288292, 17131013262255888006), (8127101162936674, 17192297832886235518)),
}


@functools.cache
def vulnerable_key(which: int) -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key with RSALib's structure."""
    p, q = (k * M + pow(E, a, M) for k, a in RSALIB_PRIMES[which])
    rng = random.Random(which)
    assert _probably_prime(p, rng)
    assert _probably_prime(q, rng)
    d = pow(E, -1, math.lcm(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(E, p * q),
    )  # fmt: skip
    return numbers.private_key()


@pytest.mark.parametrize("which", list(RSALIB_PRIMES))
def test_rsalib_moduli_have_the_fingerprint(which: int) -> None:
    key = vulnerable_key(which)
    assert key.key_size == 2048
    assert has_roca_fingerprint(key.public_key().public_numbers().n)


def test_other_moduli_do_not() -> None:
    published = jwk.import_key(vector("rfc7515/A_2.rs256.json")["key"])
    assert isinstance(published, jwk.RSAKey)
    moduli = [published.public().crypto_key.public_numbers().n]
    moduli += [
        rsa.generate_private_key(public_exponent=E, key_size=2048).public_key().public_numbers().n
        for _ in range(2)
    ]
    moduli.append(private_key("RS256").public().crypto_key.public_numbers().n)
    assert not any(has_roca_fingerprint(n) for n in moduli)


def _forms(key: rsa.RSAPrivateKey) -> dict[str, object]:
    public = key.public_key()
    pem = serialization.Encoding.PEM
    return {
        "private object": key,
        "public object": public,
        "public PEM": public.public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        "private PEM": key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "public JWK": hazmat.import_weak_key(public).to_dict(),
        "private JWK": hazmat.import_weak_key(key).to_dict(private=True),
    }


@pytest.mark.parametrize("form", list(_forms(vulnerable_key(1))))
def test_vulnerable_keys_are_refused_in_every_form(form: str) -> None:
    data = _forms(vulnerable_key(1))[form]
    with pytest.raises(InvalidKeyError, match="ROCA"):
        jwk.import_key(data)
    # As for short keys, hazmat's explicit opt-in still loads it (legacy systems).
    assert hazmat.import_weak_key(data).kty == "RSA"


def test_a_key_set_lists_a_vulnerable_key_as_rejected() -> None:
    good = private_key("RS256").public().to_dict()
    bad = hazmat.import_weak_key(vulnerable_key(2).public_key()).to_dict()
    keys = jwk.KeySet.from_dict({"keys": [bad, good]})
    assert len(keys) == 1
    assert keys.rejected == ((0, keys.rejected[0][1]),)
    assert "ROCA" in keys.rejected[0][1]
