"""The few HTML pages a person sees during a login: result, refusal, device code entry."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

__all__ = ["device_form", "page"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}"
    "code{background:#f3f3f3;padding:.2rem .4rem;word-break:break-all}"
)

# Login pages carry secrets (access keys) or one-time links: never cache or frame them.
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:"
    ),
    "Referrer-Policy": "no-referrer",
}


def page(title: str, *paragraphs: str, status: int = 200, raw: str = "") -> HTMLResponse:
    """A page of escaped paragraphs (``raw`` is trusted markup appended as is)."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}{raw}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def device_form(user_code: str, message: str = "", status: int = 200) -> HTMLResponse:
    """RFC 8628 §3.3: the person confirms the code shown by the CLI before signing in."""
    form = (
        "<form method='post' action='/oidc/device'>"
        f"<label>Code <input name='user_code' value='{escape(user_code, quote=True)}' "
        "autocomplete='off' autofocus required></label> "
        "<button type='submit'>Continue</button></form>"
    )
    lines = ["Enter the code that jot login --device printed in your terminal."]
    if message:
        lines.insert(0, message)
    return page("Log in a device", *lines, status=status, raw=form)
