"""The few HTML pages a person sees during a login: result, refusal, device code entry.

Every page gets its headers (no caching, a strict CSP, no framing) from
:class:`jot.authority.middleware.SecurityHeaders`; every form that changes something carries
a CSRF token (:mod:`jot.authority.csrf`).
"""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

from jot.authority.middleware import HTML_STYLE

__all__ = ["DEVICE_ACTION", "device_form", "page"]

#: Where the device-code form posts.
DEVICE_ACTION = "/oidc/device"


def page(
    title: str, *paragraphs: str, status: int = 200, raw: str = "", head: str = ""
) -> HTMLResponse:
    """A page of escaped paragraphs (``raw`` and ``head`` are trusted markup appended as is
    to the body and the head)."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'>{head}<title>{escape(title)}</title>"
        f"<style>{HTML_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}{raw}"
        "</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def device_form(user_code: str, hidden: str, message: str = "", status: int = 200) -> HTMLResponse:
    """RFC 8628 §3.3: the person confirms the code shown by the CLI before signing in.
    ``hidden`` is the CSRF field (trusted markup)."""
    form = (
        f"<form method='post' action='{DEVICE_ACTION}'>{hidden}"
        f"<label>Code <input name='user_code' value='{escape(user_code, quote=True)}' "
        "autocomplete='off' autofocus required></label> "
        "<button type='submit'>Continue</button></form>"
    )
    lines = ["Enter the code that jot login --device printed in your terminal."]
    if message:
        lines.insert(0, message)
    return page("Log in a device", *lines, status=status, raw=form)
