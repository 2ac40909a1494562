"""Errors of the destination side, on top of :mod:`jot.jose.errors`.

::

    JotError
    ├── JoseError
    │   └── InvalidTokenError              401: the token must be rejected
    │       ├── (every jot.jose token error: expired, bad_signature, …)
    │       ├── RevokedTokenError          the token id or its subject is on the deny-list
    │       └── ReplayedTokenError         a one-time token was presented again
    ├── BadRequestError                    400: the request itself is ambiguous (two credentials)
    ├── ForbiddenError                     403: a valid token without the needed role, or a
    │                                           user name Kubernetes reserves
    └── UnavailableError                   503: no keys or grants yet, authority unreachable

Each carries a stable ``error`` code for logs; HTTP answers stay opaque.
"""

from __future__ import annotations

from jot.jose.errors import InvalidTokenError, JotError

__all__ = [
    "BadRequestError",
    "ForbiddenError",
    "ReplayedTokenError",
    "RevokedTokenError",
    "UnavailableError",
]


class RevokedTokenError(InvalidTokenError):
    """The token, or its subject, has been revoked."""

    error = "revoked"


class ReplayedTokenError(InvalidTokenError):
    """The token may be used once and has been used before."""

    error = "replayed"


class BadRequestError(JotError):
    """The request cannot be decided on as it is: two components along the way could read it
    differently (two ``Authorization`` credentials, say)."""

    error = "invalid_request"


class ForbiddenError(JotError):
    """The identity is valid but may not pass: it holds no role here, or its name is one that
    Kubernetes reserves. ``error`` says which (for logs)."""

    error = "forbidden"

    def __init__(self, description: str = "", *, error: str | None = None) -> None:
        super().__init__(description)
        if error is not None:
            self.error = error


class UnavailableError(JotError):
    """The destination cannot decide now: it has no keys or grants and cannot fetch them."""

    error = "temporarily_unavailable"
