"""The console's read-only pages: the audit log (filters, paging back by id, a live tail)
and "explain access" (the token endpoint's decision, with the grants behind it)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.responses import JSONResponse, Response

from jot.api.session import AuditEvent
from jot.authority.access import Need
from jot.authority.errors import APIError
from jot.authority.handlers import audit, explain
from jot.authority.web.pages.admin_kit import PAGE, SECTIONS, Field, Listing, Row, show
from jot.authority.web.visit import Visit

__all__ = ["audit_page", "audit_tail", "explain_page"]


def _events(visit: Visit, *, before: int | None, after: int | None, limit: int) -> list[AuditEvent]:
    q = visit.request.query_params
    return visit.call(
        Need.VIEW,
        audit.list_audit,
        since=None,
        until=None,
        kind=q.get("kind", "")[:64] or None,
        actor=q.get("actor", "")[:253] or None,
        limit=limit,
        before=before,
        after=after,
    ).items


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 19 else None


def _row(event: AuditEvent) -> Row:
    detail = json.dumps(event.detail, sort_keys=True)
    when = event.time.strftime("%Y-%m-%d %H:%M:%S")
    return Row(
        str(event.id),
        [when, event.kind, event.actor or "—", event.target or "—", event.client or "—", detail],
    )


def audit_page(visit: Visit) -> Response:
    q = visit.request.query_params
    kind, actor = q.get("kind", "")[:64], q.get("actor", "")[:253]
    found = _events(visit, before=_number(q.get("before")), after=None, limit=PAGE)
    next_url = None
    if len(found) == PAGE:
        keep = {k: v for k, v in (("kind", kind), ("actor", actor)) if v}
        next_url = f"/admin/audit?{urlencode({**keep, 'before': found[-1].id})}"
    listing = Listing(
        "/admin/audit",
        "Audit log",
        ["Time (UTC)", "Event", "Actor", "Target", "Client", "Detail"],
        [_row(e) for e in found],
        filters=[
            Field("kind", "Event (exact, or a prefix ending in .)", value=kind),
            Field("actor", "Actor", value=actor),
        ],
        next_url=next_url,
        intro="Newest first. Live: new events appear at the top as they happen.",
    )
    return show(visit, listing)


def audit_tail(visit: Visit) -> Response:
    """The events after ``after`` (an id), as rows of text, for the page's live tail."""
    after = _number(visit.request.query_params.get("after")) or 0
    found = _events(visit, before=None, after=after, limit=PAGE)
    rows = [{"id": r.key, "cells": r.cells} for r in map(_row, found)]
    return visit.finish(JSONResponse({"rows": rows}))


def explain_page(visit: Visit) -> Response:
    q = visit.request.query_params
    subject, resource = q.get("subject", "")[:300], q.get("resource", "")[:300]
    found, error, status = None, "", 200
    if subject or resource:
        try:
            found = visit.call(
                Need.VIEW, explain.explain, subject=subject.strip(), resource=resource.strip()
            )
        except APIError as exc:
            if exc.status == 401:
                raise
            error, status = exc.message, exc.status
    listing = Listing(
        "/admin/explain",
        "Explain access",
        [],
        [],
        filters=[
            Field("subject", "Subject (user:NAME or group:NAME)", value=subject),
            Field("resource", "At (destination or destination.sub-resource)", value=resource),
        ],
        intro="Would the destination accept them there, with which roles, and if not, why: "
        "the answer of the token endpoint's own decision.",
        search="Explain",
    )
    return visit.page(
        "explain.html",
        status,
        title="Explain access",
        listing=listing,
        sections=SECTIONS,
        error=error,
        done="",
        found=found,
    )
