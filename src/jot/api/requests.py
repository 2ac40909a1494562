"""Access requests (just-in-time access): a person asks for a role on a resource for a while.

``POST /api/access-requests`` asks; people holding ``approver`` on ``jot.<resource>`` (or on a
resource above it), and admins, answer with ``…/approve`` or ``…/deny``; the requester may
``…/cancel``. Approval creates a grant that lapses after ``duration`` seconds. A request that
nobody answers expires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from jot.api._base import CONTROL, Request, Resource, Response, Role

__all__ = [
    "MAX_GRANT_DURATION",
    "MAX_PENDING",
    "MAX_PER_HOUR",
    "AccessRequest",
    "AccessRequestCreate",
    "AccessRequestList",
    "Answer",
    "RequestState",
]

#: The longest a time-bound grant may run: a year. Requests are bounded lower by the
#: authority's ``access_request_max_duration`` setting.
MAX_GRANT_DURATION = 366 * 86400

#: Requests one person may have waiting for an answer at once: each one notifies the
#: approvers (and the webhook), so one person cannot flood them.
MAX_PENDING = 10
#: Requests one person may make in an hour, whatever became of them (asking and cancelling
#: in a loop would notify as often).
MAX_PER_HOUR = 30

RequestState = Literal["pending", "approved", "denied", "cancelled", "expired"]

#: Why, in one line (no control characters: it is shown in terminals and chat).
Reason = Annotated[str, Field(min_length=1, max_length=1000, pattern=rf"^[^{CONTROL}]*$")]


class AccessRequestCreate(Request):
    role: Role
    resource: Resource
    duration: int = Field(ge=60, le=MAX_GRANT_DURATION, description="seconds the grant runs")
    reason: Reason


class Answer(Request):
    """An approver's answer; ``note`` is shown to the requester and kept in the audit log."""

    note: Reason | None = None


class AccessRequest(Response):
    id: str
    requester: str
    role: str
    resource: str
    duration: int
    reason: str
    state: RequestState
    created: datetime
    #: When a pending request expires unanswered.
    expires: datetime
    decided: datetime | None = None
    decided_by: str | None = None
    note: str | None = None
    #: The grant an approval created or extended, and when it lapses.
    grant: str | None = None
    grant_expires: datetime | None = None


class AccessRequestList(Response):
    items: list[AccessRequest]
