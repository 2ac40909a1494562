"""The parts every console page is made of: a table of rows with per-row actions, forms
described as data, filters and "next page" links, and one way to answer a form (the API
handler's own checks; its refusal shown on the page in one line, the input kept)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from starlette.responses import Response

from jot.api.durations import spoken
from jot.authority.clock import to_datetime
from jot.authority.errors import APIError
from jot.authority.web.visit import Visit, invalid

__all__ = [
    "NAME_SAFE",
    "PAGE",
    "SECTIONS",
    "Action",
    "Field",
    "Form",
    "Listing",
    "Row",
    "Secret",
    "again",
    "attempt",
    "ends",
    "next_url",
    "posted",
    "show",
]

#: What an identity's name keeps unquoted in a page's path: every character a name may have
#: (so that the path a form posts to is the path the CSRF check sees, decoded or not).
NAME_SAFE = "@+:"

#: Rows per console page.
PAGE = 50

#: The console's sections, in the order of its menu: (path, title).
SECTIONS: list[tuple[str, str]] = [
    ("/admin/users", "Users"),
    ("/admin/groups", "Groups"),
    ("/admin/destinations", "Destinations"),
    ("/admin/grants", "Grants"),
    ("/admin/explain", "Explain access"),
    # Everyone's page (asking, answering); listed here for admins and viewers too.
    ("/requests", "Access requests"),
    ("/admin/access-keys", "Access keys"),
    ("/admin/signing-keys", "Signing keys"),
    ("/admin/revocations", "Revocations"),
    ("/admin/providers", "Login providers"),
    ("/admin/audit", "Audit log"),
]


@dataclass
class Field:
    name: str
    label: str
    kind: str = "text"
    options: list[str] | None = None
    required: bool = True
    value: str = ""
    hint: str = ""


@dataclass
class Form:
    action: str
    title: str
    fields: list[Field]
    button: str
    #: Asked in a browser dialog before the form is sent (the CLI's confirmation).
    confirm: str | None = None
    danger: bool = False


@dataclass
class Action:
    """A one-button form on a row (remove, revoke)."""

    action: str
    label: str
    values: dict[str, str]
    confirm: str | None = None


@dataclass
class Row:
    key: str
    cells: list[Any]
    actions: list[Action] = field(default_factory=list)
    link: str | None = None


@dataclass
class Listing:
    section: str
    title: str
    columns: list[str]
    rows: list[Row]
    forms: list[Form] = field(default_factory=list)
    filters: list[Field] = field(default_factory=list)
    next_url: str | None = None
    intro: str = ""
    #: The label of the filter form's button.
    search: str = "Filter"
    #: A block of text shown as it is (a YAML document), under a heading of its own.
    text: str = ""
    text_title: str = ""


@dataclass
class Secret:
    """A secret the handler shows once (a new access key, a client secret), with a copy
    button."""

    title: str
    value: str
    hint: str = "Shown this once: copy it now."


def ends(visit: Visit, value: datetime | None) -> str:
    """When a grant ends, and how long that is from now (``jot grants list``'s way)."""
    if value is None:
        return "—"
    left = (value - to_datetime(visit.authority.clock())).total_seconds()
    if left >= 300:  # To the minute: the seconds of a long time left are noise.
        left = round(left / 60) * 60
    when = value.strftime("%Y-%m-%d %H:%M")
    return f"{when} ({spoken(left)} left)" if left > 0 else when


def next_url(
    visit: Visit, items: list[Any], cursor: Callable[[Any], str], **keep: str
) -> str | None:
    """The link to the next page when this one is full (the key of its last item)."""
    if len(items) < PAGE:
        return None
    query = {k: v for k, v in keep.items() if v}
    query["after"] = cursor(items[-1])
    return f"{visit.request.url.path}?{urlencode(query)}"


def posted(visit: Visit, name: str) -> str:
    """A posted form field, trimmed."""
    return visit.form.get(name, "").strip()


def again(
    page: Callable[[Visit, int, str], Response], visit: Visit
) -> Callable[[int, str], Response]:
    """``page`` shown again with a refusal (status, message): :func:`attempt`'s ``again``."""
    return lambda status, message: page(visit, status, message)


def show(
    visit: Visit,
    listing: Listing,
    *,
    status: int = 200,
    error: str = "",
    secret: Secret | None = None,
    done: str | None = None,
) -> Response:
    if done is None:
        done = visit.request.query_params.get("done", "")[:300]
    return visit.page(
        "admin.html",
        status,
        title=listing.title,
        listing=listing,
        sections=SECTIONS,
        error=error,
        done=done,
        secret=secret,
    )


def attempt(
    visit: Visit, back: str, act: Callable[[], str], again: Callable[[int, str], Response]
) -> Response:
    """Run ``act`` (which calls an API handler and says what it did); then to ``back`` with
    that message, or, refused, the page again with the reason (status as the API's)."""
    try:
        message = act()
    except ValidationError as exc:
        return again(400, invalid(exc))
    except APIError as exc:
        if exc.status == 401:
            raise
        return again(exc.status, exc.message)
    return visit.redirect(f"{back}?{urlencode({'done': message})}")
