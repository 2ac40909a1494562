"""Revocation in the console: the entries in force (what every destination refuses now), and
``jot revoke user:NAME`` / ``jot revoke token JTI`` / ``jot revoke lift ID`` through the API's
handlers, each confirmed first as the CLI's is."""

from __future__ import annotations

from starlette.responses import Response

from jot.api.revocations import RevocationCreate
from jot.authority.access import Need
from jot.authority.handlers import revocations
from jot.authority.web.pages.admin_kit import (
    Action,
    Field,
    Form,
    Listing,
    Row,
    again,
    attempt,
    posted,
    show,
)
from jot.authority.web.visit import Visit

__all__ = ["lift", "revocations_page", "revoke", "revoke_token"]

_SECTION = "/admin/revocations"


def _page(visit: Visit, status: int = 200, error: str = "") -> Response:
    found = visit.call(Need.VIEW, revocations.list_revocations).items
    rows = [
        Row(
            r.id,
            [r.target, r.kind, r.until.strftime("%Y-%m-%d %H:%M"), r.actor or "—", r.reason or "—"],
            [
                Action(
                    f"{_SECTION}/lift",
                    "Lift",
                    {"id": r.id},
                    f"Lift the revocation of {r.target}? Its tokens verify again "
                    "(revoked access keys stay revoked).",
                )
            ],
        )
        for r in found
    ]
    reason = Field("reason", "Reason (kept with the entry and in the audit log)", required=False)
    forms = [
        Form(
            _SECTION,
            "Revoke a user",
            [Field("subject", "User (user:NAME)", value="user:"), reason],
            "Revoke user",
            confirm="Revoke this user now? Its access keys are revoked and every token it "
            "holds is refused at every destination.",
            danger=True,
        ),
        Form(
            f"{_SECTION}/token",
            "Revoke one token",
            [Field("token", "Token id (jti)"), reason],
            "Revoke token",
            confirm="Revoke this token now? Every destination refuses it.",
            danger=True,
        ),
    ]
    listing = Listing(
        _SECTION,
        "Revocations",
        ["Revoked", "Kind", "Until", "By", "Reason"],
        rows,
        forms,
        intro="Refused at every destination now; an entry ages out by itself when the last "
        "token it concerns has expired.",
    )
    return show(visit, listing, status=status, error=error)


def revocations_page(visit: Visit) -> Response:
    return _page(visit)


def _revoke(visit: Visit, what: str) -> Response:
    def act() -> str:
        body = RevocationCreate.model_validate(
            {what: posted(visit, what), "reason": visit.form.get("reason") or None}
        )
        made = visit.call(Need.ADMIN, revocations.create_revocation, body)
        keys = made.revoked_access_keys
        also = f"; {len(keys)} access key{'s' if len(keys) != 1 else ''} revoked" if keys else ""
        return f"revoked {made.target} at every destination until {made.until:%Y-%m-%d %H:%M}{also}"

    return attempt(visit, _SECTION, act, again(_page, visit))


def revoke(visit: Visit) -> Response:
    return _revoke(visit, "subject")


def revoke_token(visit: Visit) -> Response:
    return _revoke(visit, "token")


def lift(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, revocations.delete_revocation, posted(visit, "id"))
        return f"lifted revocation {posted(visit, 'id')}"

    return attempt(visit, _SECTION, act, again(_page, visit))
