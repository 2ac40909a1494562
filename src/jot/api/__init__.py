"""Wire types shared by the authority, the destinations and the CLI.

The authority and a destination meet only over HTTP; these models are the contract between
them, so neither side imports the other's code.
"""

from jot.api.claims import TOKEN_TYPE, Claims
from jot.api.errors import ErrorResponse
from jot.api.grants import Grant, GrantList
from jot.api.tokens import TokenRequest, TokenResponse

__all__ = [
    "TOKEN_TYPE",
    "Claims",
    "ErrorResponse",
    "Grant",
    "GrantList",
    "TokenRequest",
    "TokenResponse",
]
