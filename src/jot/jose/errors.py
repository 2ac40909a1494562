"""The one error hierarchy of `jot.jose`.

::

    JotError                          every error jot raises on purpose
    ├── UsageError                    a programming mistake: fix the code, not the token
    │                                 (no algorithm allowed, key of the wrong type for an
    │                                 algorithm, a weak key without the hazmat opt-in)
    └── JoseError                     carries a stable ``error`` code and a ``description``
        ├── InvalidKeyError           key material that cannot be used (bad JWK, PEM, weak key)
        └── InvalidTokenError         the token must be rejected
            ├── MalformedTokenError       not a well-formed JWS/JWE/JWT
            ├── UnsupportedAlgorithmError `alg`/`enc` not in the caller's allow-list
            ├── UnsupportedHeaderError    unknown `crit`, `b64` outside `crit`, …
            ├── KeyNotFoundError          no key in the key set matches the token
            ├── BadSignatureError         the signature does not verify
            ├── DecryptionError           a JWE could not be decrypted (uniform message)
            └── ClaimError                a claim is missing, of the wrong type or value
                ├── MissingClaimError
                ├── ExpiredTokenError
                ├── NotYetValidError
                ├── InvalidIssuerError
                ├── InvalidAudienceError
                └── InvalidTypeError      the `typ` header is not the expected one

Messages name the reason and never contain key material or a whole token.
"""

from __future__ import annotations

__all__ = [
    "BadSignatureError",
    "ClaimError",
    "DecryptionError",
    "ExpiredTokenError",
    "InvalidAudienceError",
    "InvalidIssuerError",
    "InvalidKeyError",
    "InvalidTokenError",
    "InvalidTypeError",
    "JoseError",
    "JotError",
    "KeyNotFoundError",
    "MalformedTokenError",
    "MissingClaimError",
    "NotYetValidError",
    "UnsupportedAlgorithmError",
    "UnsupportedHeaderError",
    "UsageError",
]


class JotError(Exception):
    """Root of every error that jot raises on purpose."""


class UsageError(JotError, TypeError):
    """The caller used the API wrongly; no token or key input can cause this."""


class JoseError(JotError):
    """An error about JOSE input, with a stable machine-readable ``error`` code."""

    error = "jose_error"

    def __init__(self, description: str = "", *, error: str | None = None) -> None:
        self.description = description or self.__class__.__doc__ or self.error
        if error is not None:
            self.error = error
        super().__init__(self.description)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(error={self.error!r}, description={self.description!r})"


class InvalidKeyError(JoseError):
    """The key material cannot be used."""

    error = "invalid_key"


class InvalidTokenError(JoseError):
    """The token is invalid and must be rejected."""

    error = "invalid_token"


class MalformedTokenError(InvalidTokenError):
    """The token is not well formed."""

    error = "malformed"


class UnsupportedAlgorithmError(InvalidTokenError):
    """The token's algorithm is not allowed here."""

    error = "unsupported_algorithm"


class UnsupportedHeaderError(InvalidTokenError):
    """The token has a header parameter that must be understood but is not."""

    error = "unsupported_header"


class KeyNotFoundError(InvalidTokenError):
    """No key matches the token."""

    error = "key_not_found"


class BadSignatureError(InvalidTokenError):
    """The signature does not verify."""

    error = "bad_signature"


class DecryptionError(InvalidTokenError):
    """The token could not be decrypted."""

    error = "decryption_failed"


class ClaimError(InvalidTokenError):
    """A claim is missing or invalid."""

    error = "invalid_claim"

    def __init__(self, description: str = "", *, claim: str | None = None) -> None:
        self.claim = claim
        super().__init__(description)


class MissingClaimError(ClaimError):
    """A required claim is missing."""

    error = "missing_claim"


class ExpiredTokenError(ClaimError):
    """The token has expired."""

    error = "expired"


class NotYetValidError(ClaimError):
    """The token is not valid yet."""

    error = "not_yet_valid"


class InvalidIssuerError(ClaimError):
    """The token comes from another issuer."""

    error = "invalid_issuer"


class InvalidAudienceError(ClaimError):
    """The token is meant for another audience."""

    error = "invalid_audience"


class InvalidTypeError(ClaimError):
    """The token's `typ` header is not the expected one."""

    error = "invalid_type"
