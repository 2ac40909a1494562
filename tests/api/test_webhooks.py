"""The webhook signature check on what a receiver may be sent: always a bool, never an
exception, whatever the headers hold."""

from __future__ import annotations

import pytest

from jot.api import webhooks

SECRET = b"a-webhook-secret-of-some-length"
BODY = b'{"event": "access_request.created"}'


def test_a_genuine_fresh_notification_passes() -> None:
    signed = webhooks.signature(SECRET, 1000, BODY)
    assert webhooks.check_signature(SECRET, "1000", signed, BODY, now=1000)
    assert webhooks.check_signature(SECRET, "1000", signed, BODY, now=1300)
    assert not webhooks.check_signature(SECRET, "1000", signed, BODY, now=1301)


@pytest.mark.parametrize(
    ("timestamp", "signed"),
    [
        ("²", "sha256=00"),  # isdigit(), but not to int()
        ("١٠٠٠", None),  # Arabic-Indic digits: int() reads them as 1000
        ("1" * 5000, "sha256=00"),  # beyond int()'s digit limit
        ("-1000", None),
        (" 1000", None),
        ("1000", "sha256=é"),  # compare_digest refuses non-ASCII str
        ("1000", "\udcff"),
        ("1000", ""),
    ],
)
def test_malformed_headers_are_refused_not_raised(timestamp: str, signed: str | None) -> None:
    value = webhooks.signature(SECRET, 1000, BODY) if signed is None else signed
    assert webhooks.check_signature(SECRET, timestamp, value, BODY, now=1000) is False
