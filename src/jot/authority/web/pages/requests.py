"""Access requests (just-in-time access, issue 19): ask for a role on a resource for a while;
answer the requests one may answer; cancel one's own.

Every step is the API's handler (:mod:`jot.authority.handlers.requests`), with its rules:
who sees which request, who may answer (``approver`` on ``jot.<resource>`` or above it, or
admin), never one's own, the longest duration, one pending request per role and resource.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from jot.api.requests import AccessRequest, AccessRequestCreate, Answer
from jot.authority.access import Need
from jot.authority.handlers import requests
from jot.authority.web.pages.admin_kit import attempt
from jot.authority.web.visit import Visit

__all__ = ["answer", "ask", "cancel", "requests_page"]

#: What the form offers, within the authority's ``access_request_max_duration``.
DURATIONS = [(3600, "1 hour"), (4 * 3600, "4 hours"), (8 * 3600, "8 hours"),
             (86400, "1 day"), (7 * 86400, "7 days")]  # fmt: skip

#: Requests listed per part of the page (newest first).
LISTED = 50


def _page(visit: Visit, status: int = 200, **extra: Any) -> Response:
    me = visit.me.name if visit.me is not None else ""
    waiting = visit.call(Need.SELF, requests.list_requests, state="pending", limit=LISTED).items
    # One's own in a query of their own: an admin sees everyone's, which would crowd them out.
    mine = visit.call(Need.SELF, requests.list_requests, state=None, limit=LISTED, mine=True)
    cap = visit.authority.settings.access_request_max_duration
    durations = [(s, label) for s, label in DURATIONS if s <= cap] or [(cap, f"{cap} s")]
    return visit.page(
        "requests.html",
        status,
        title="Access requests",
        others=[r for r in waiting if r.requester != me],
        mine=mine.items,
        durations=durations,
        done=visit.request.query_params.get("done", "")[:300],
        form=visit.form if status >= 400 else {},
        lasts=_lasts,
        **extra,
    )


def _lasts(request: AccessRequest) -> str:
    """The duration in the largest whole unit: ``1 day``, ``4 hours``, ``90 minutes``."""
    seconds = request.duration
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def requests_page(visit: Visit) -> Response:
    return _page(visit)


def _attempt(visit: Visit, act: Callable[[], str]) -> Response:
    """``act`` through the console's one way to answer a form (:func:`admin_kit.attempt`)."""
    return attempt(visit, "/requests", act, lambda status, why: _page(visit, status, message=why))


def ask(visit: Visit) -> Response:
    form = visit.form

    def act() -> str:
        duration = form.get("duration", "")
        body = AccessRequestCreate.model_validate(
            {
                "role": form.get("role", "").strip(),
                "resource": form.get("resource", "").strip(),
                "duration": int(duration) if duration.isdigit() and len(duration) < 10 else 0,
                "reason": form.get("reason", "").strip(),
            }
        )
        made = visit.call(Need.SELF, requests.create_request, body)
        return f"asked for {made.role} on {made.resource}: request {made.id} waits for an answer"

    return _attempt(visit, act)


def answer(visit: Visit) -> Response:
    """Approve or deny (``verdict``), with an optional note for the requester."""
    form = visit.form
    request_id, verdict = form.get("id", "")[:64], form.get("verdict", "")

    def act() -> str:
        body = Answer.model_validate({"note": form.get("note", "").strip() or None})
        if verdict == "approve":
            done = visit.call(Need.SELF, requests.approve_request, request_id, body)
        elif verdict == "deny":
            done = visit.call(Need.SELF, requests.deny_request, request_id, body)
        else:
            return "nothing done: approve or deny"
        return f"{done.state} {done.requester}'s request for {done.role} on {done.resource}"

    return _attempt(visit, act)


def cancel(visit: Visit) -> Response:
    request_id = visit.form.get("id", "")[:64]

    def act() -> str:
        done = visit.call(Need.SELF, requests.cancel_request, request_id)
        return f"cancelled your request for {done.role} on {done.resource}"

    return _attempt(visit, act)
