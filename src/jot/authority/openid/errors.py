"""The one error of the OAuth endpoints: an RFC 6749 §5.2 error code, a description safe to
show, and the reason recorded in the audit log."""

from __future__ import annotations

__all__ = ["OAuthError"]


class OAuthError(Exception):
    def __init__(
        self, error: str, description: str, *, reason: str = "", status: int = 400
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.reason = reason or error
        self.status = status
