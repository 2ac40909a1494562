"""The ROCA fingerprint (CVE-2017-15361): RSA moduli made by Infineon's RSALib, which can be
factored from the public key alone.

RSALib made each prime as ``k·M + (65537^a mod M)``, with ``M`` the product of the first few
dozen primes. So for every small prime ``p`` dividing ``M``, the modulus ``n`` is a power of
65537 modulo ``p``. Every RSALib modulus passes that test for all of the primes below; any
other modulus with a chance of about 2^-28 (one in 240 million). These are the primes and
the test of the authors' detection tool (Nemec et al., "The Return of Coppersmith's Attack",
CCS 2017).
"""

from __future__ import annotations

import math

from cryptography.hazmat.primitives.asymmetric import rsa

from jot.jose.errors import InvalidKeyError

__all__ = ["has_roca_fingerprint", "refuse_roca"]

# The odd primes up to 167: every RSALib key size uses M with at least these as factors.
_PRIMES = tuple(p for p in range(3, 168, 2) if all(p % d for d in range(3, math.isqrt(p) + 1)))
_GENERATOR = 65537


def _powers(prime: int) -> int:
    """The residues ``65537^a mod prime``, as a bit set."""
    seen, value = 0, 1
    while not seen >> value & 1:
        seen |= 1 << value
        value = value * _GENERATOR % prime
    return seen


_FINGERPRINT = tuple((prime, _powers(prime)) for prime in _PRIMES)
# One big reduction, then only small ones: n mod p = (n mod ∏p) mod p.
_PRODUCT = math.prod(_PRIMES)


def has_roca_fingerprint(modulus: int) -> bool:
    """True when ``modulus`` has the structure of an RSALib key (so it can be factored)."""
    residue = modulus % _PRODUCT
    return all(powers >> (residue % prime) & 1 for prime, powers in _FINGERPRINT)


def refuse_roca(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> None:
    """Raise :class:`InvalidKeyError` for a key with the ROCA weakness."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    if has_roca_fingerprint(public.public_numbers().n):
        raise InvalidKeyError("RSA key with the ROCA weakness (CVE-2017-15361): it can be factored")
