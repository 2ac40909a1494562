"""jot.jose: a complete, standalone JOSE library (JWS, JWE, JWK, JWA, JWT).

It depends only on `cryptography` and imports nothing else from jot. See ``docs/jose.md``.
"""

from jot.jose import errors, hazmat, jwa, jwe, jwk, jws, jwt
from jot.jose.jwk import Key, KeySet

__all__ = ["Key", "KeySet", "errors", "hazmat", "jwa", "jwe", "jwk", "jws", "jwt"]
