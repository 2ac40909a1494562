"""The signature of the authority's outgoing webhooks, for senders and receivers alike.

A notification is a JSON ``POST`` with these headers::

    X-Jot-Event: access_request.created
    X-Jot-Delivery: <unique id of this delivery>
    X-Jot-Timestamp: <unix seconds when it was signed>
    X-Jot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

The timestamp is inside the signed text, so that a receiver that refuses old timestamps
(:data:`MAX_AGE`) cannot be fed a recorded notification again.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "MAX_AGE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "check_signature",
    "signature",
]

EVENT_HEADER = "X-Jot-Event"
DELIVERY_HEADER = "X-Jot-Delivery"
TIMESTAMP_HEADER = "X-Jot-Timestamp"
SIGNATURE_HEADER = "X-Jot-Signature"
#: Seconds a receiver should accept a timestamp for, either way (clocks differ a little).
MAX_AGE = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Jot-Signature`` value of ``body`` signed at ``timestamp``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def check_signature(
    secret: bytes, timestamp: str, signed: str, body: bytes, *, now: float, max_age: int = MAX_AGE
) -> bool:
    """Whether a received notification is genuine and fresh (constant-time comparison).
    Whatever the headers hold, the answer is a bool: a receiver never fails on them."""
    # str.isdigit() is true for "²" and Arabic-Indic digits, which int() refuses or reads;
    # and int() refuses 4,300 digits: ASCII digits, and few of them.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs(now - int(timestamp)) > max_age:
        return False
    # compare_digest refuses str with non-ASCII characters (TypeError): compare bytes.
    expected = signature(secret, int(timestamp), body).encode()
    return hmac.compare_digest(expected, signed.encode("utf-8", "surrogateescape"))
