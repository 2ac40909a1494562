"""The JSON body of every error response of the authority."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["ErrorResponse"]


class ErrorResponse(BaseModel):
    """``{"error": "not_found", "message": "no destination named 'web'"}``.

    ``error`` is a stable code for programs; ``message`` is one line for people.
    """

    error: str
    message: str
