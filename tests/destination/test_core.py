"""destination/_core.py: the one refusal decision, and what a request's token is."""

from __future__ import annotations

import logging

import pytest

from jot.destination._core import (
    MISSING_TOKEN,
    NO_ROLE,
    RESERVED_NAME,
    allowed,
    refuse,
    request_token,
)
from jot.destination.errors import (
    BadRequestError,
    ForbiddenError,
    RevokedTokenError,
    UnavailableError,
)
from jot.destination.identity import Identity
from jot.jose.errors import ExpiredTokenError, InvalidTokenError

CHALLENGE = b"www-authenticate"


@pytest.mark.parametrize(
    ("exc", "status", "headers", "reason", "level"),
    [
        (
            InvalidTokenError("no bearer token", error=MISSING_TOKEN),
            401, ((CHALLENGE, b'Bearer realm="web"'),), "no token", logging.INFO,
        ),
        (
            ExpiredTokenError("expired"),
            401, ((CHALLENGE, b'Bearer realm="web", error="invalid_token"'),), "invalid token",
            logging.INFO,
        ),
        (
            RevokedTokenError("gone"),
            401, ((CHALLENGE, b'Bearer realm="web", error="invalid_token"'),), "invalid token",
            logging.INFO,
        ),
        (
            BadRequestError("two"),
            400, ((CHALLENGE, b'Bearer realm="web", error="invalid_request"'),),
            "more than one credential", logging.INFO,
        ),
        (ForbiddenError("x", error=NO_ROLE), 403, (), "no grant at this destination", logging.INFO),
        (ForbiddenError("x", error=RESERVED_NAME), 403, (), "reserved user name", logging.INFO),
        (
            UnavailableError("no keys"),
            503, ((b"retry-after", b"5"),), "temporarily unavailable", logging.WARNING,
        ),
    ],
)  # fmt: skip
def test_refuse_gives_status_headers_reason_and_log_line(exc, status, headers, reason, level):
    refusal = refuse(exc, "web")
    assert (refusal.status, refusal.headers, refusal.reason) == (status, headers, reason)
    assert refusal.log_level == level
    assert str(exc) in refusal.log_line


def test_a_realm_is_quoted_in_the_challenge():
    refusal = refuse(ExpiredTokenError("x"), 'a "b" \\ c')
    assert refusal.headers == (
        (CHALLENGE, b'Bearer realm="a \\"b\\" \\\\ c", error="invalid_token"'),
    )


def test_the_log_line_names_the_front_end(caplog):
    caplog.set_level(logging.INFO, logger="jot.destination")
    refuse(ForbiddenError("u has no role here", error=NO_ROLE), "web").log(
        logging.getLogger("jot.destination"), "forward-auth"
    )
    assert caplog.messages == ["jot forward-auth: refused (no_role): u has no role here"]


def test_request_token():
    assert request_token(["Bearer abc"]) == "abc"
    assert request_token([], optional=True) is None
    assert request_token(["Basic YTpi"], optional=True) is None
    with pytest.raises(InvalidTokenError) as missing:
        request_token(["Basic YTpi"])
    assert missing.value.error == MISSING_TOKEN
    with pytest.raises(BadRequestError):
        request_token(["Bearer a", "Bearer b"], optional=True)


def _identity(roles: frozenset[str]) -> Identity:
    return Identity(
        subject="u", name="u", groups=(), roles=roles, token_id="j", expires=None, claims={}
    )


def test_allowed_requires_a_role_unless_told_not_to():
    with pytest.raises(ForbiddenError) as refused:
        allowed(_identity(frozenset()), require_grant=True)
    assert refused.value.error == NO_ROLE
    assert allowed(_identity(frozenset()), require_grant=False).roles == frozenset()
    assert allowed(_identity(frozenset({"admin"})), require_grant=True).roles == {"admin"}
