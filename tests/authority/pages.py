"""The web console's pages driven over HTTP, without a browser: a person signed in with a
password, and the CSRF token of a form on a page (the browser tests in tests/web drive the
same pages through Chromium)."""

from __future__ import annotations

import re

import httpx
from starlette.requests import Request

from jot.authority.app import Started, create_app

from .conftest import ISSUER, bearer

__all__ = ["form_token", "person", "session_token", "signed_in"]


def form_token(html: str, action: str) -> str:
    """The CSRF token of the form on ``html`` that posts to ``action``."""
    found = re.search(
        rf'action="{re.escape(action)}"[^>]*>\s*<input type=\'hidden\' '
        r"name='csrf_token' value='([^']+)'",
        html,
    )
    assert found is not None, (action, html)
    return found.group(1)


async def person(http: httpx.AsyncClient, admin_key: str, name: str, password: str) -> None:
    """Make the user ``name`` with ``password``."""
    body = {"name": name, "kind": "user", "password": password}
    made = await http.post("/api/users", json=body, headers=bearer(admin_key))
    assert made.status_code == 201, made.text


async def signed_in(
    started: Started, name: str, password: str, base: str = ISSUER, *, make: str | None = None
) -> httpx.AsyncClient:
    """A browser of its own (its own cookies), signed in as ``name`` with ``password``; with
    ``make`` (an admin's key), the user is made first."""
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    http = httpx.AsyncClient(transport=transport, base_url=base)
    if make is not None:
        await person(http, make, name, password)
    page = await http.get("/sign-in")
    form = {"method": "password", "name": name, "password": password}
    done = await http.post(
        "/sign-in", data={**form, "csrf_token": form_token(page.text, "/sign-in")}
    )
    assert done.status_code == 303, done.text
    return http


def session_token(started: Started, browser: httpx.AsyncClient, action: str) -> str:
    """The CSRF token a page would give this browser for a form that posts to ``action``, for
    a post that no page of this person shows (forged by the person themselves)."""
    header = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar).encode()
    session = next(c.value for c in browser.cookies.jar if c.name.endswith("jot_session"))
    request = Request({"type": "http", "headers": [(b"cookie", header)]})
    issued = started.authority.forms.issue(request, f"{action}|{session.split('.')[0]}")
    return issued.token
