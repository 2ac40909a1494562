"""Why an OIDC login was refused: one code for the audit log, one line for the person."""

from __future__ import annotations

from jot.authority.errors import APIError

__all__ = ["LoginRefused", "ProviderUnavailable"]


class LoginRefused(APIError):
    """The login cannot go on; ``reason`` is a stable code (``bad_state``, ``bad_nonce``…)."""

    status, error = 400, "login_refused"

    def __init__(self, reason: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        #: Where the browser should go to learn of the refusal (the CLI's loopback), if known.
        self.redirect: str | None = None

    @property
    def public_message(self) -> str:
        """What the person (anyone who can start a login) is told; the audit log keeps
        :attr:`message`."""
        return self.message


class ProviderUnavailable(LoginRefused):
    """The provider is down, slow, or answered something that is not what OIDC specifies."""

    def __init__(self, message: str) -> None:
        super().__init__("provider_error", message, status=502)

    @property
    def public_message(self) -> str:
        # One answer for every way a provider can fail: whether its host refused the
        # connection or answered 404 is not for anonymous visitors to probe.
        return "the login provider is not available right now; try again later"
