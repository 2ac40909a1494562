"""Pages from Jinja2 templates, with the console's headers.

The policy: scripts, styles and images from this origin only, nothing inline (no
``'unsafe-inline'``, no hashes: every script is a file under ``static/``), forms post only
here, no framing. ``Referrer-Policy: same-origin``: with ``no-referrer`` a browser sends
``Origin: null`` on a form post, which the CSRF origin check must refuse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from jot.authority.access import Need

__all__ = ["HEADERS", "STATIC", "render"]

STATIC = Path(__file__).parent / "static"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Templates show links and buttons by the access rules' own names (every action is checked
# again by its handler's rule).
_env.globals["Need"] = Need


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` filled with ``context`` (every value escaped)."""
    body = _env.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers=HEADERS)
