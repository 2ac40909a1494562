"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): a destination sends the
browser here after forgetting its own session; the person confirms, and the authority's
browser session ends, which ends every destination's session at its next renewal.

The confirmation is a form with a CSRF token: a link on another site cannot sign anyone out.
After it, the browser goes to ``post_logout_redirect_uri`` only when that exact URI is
registered for the client named by ``client_id``.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl, urlencode

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from jot.authority.csrf import FIELD, CsrfRefused
from jot.authority.oidc import pages
from jot.authority.openid import clients, paths, signin
from jot.authority.openid.token import MAX_FORM
from jot.authority.state import Authority
from jot.authority.web import sessions

__all__ = ["confirm", "logout"]


def _where_next(authority: Authority, params: dict[str, str]) -> str | None:
    uri, client_id = params.get("post_logout_redirect_uri"), params.get("client_id")
    if not uri or not client_id:
        return None
    with authority.db.transaction(write=False) as session:
        client = clients.find(session, client_id)
    return uri if client is not None and uri in client.post_logout_redirect_uris else None


def logout(request: Request) -> Response:
    """The confirmation page (nothing changes on a GET)."""
    authority: Authority = request.app.state.authority
    params = {k: v[:2000] for k, v in request.query_params.items()}
    issued = authority.forms.issue(request, paths.END_SESSION)
    hidden = "".join(
        f"<input type='hidden' name='{escape(k, quote=True)}' value='{escape(v, quote=True)}'>"
        for k, v in params.items()
        if k in ("client_id", "post_logout_redirect_uri", "state")
    )
    form = (
        f"<form method='post' action='{paths.END_SESSION}'>{issued.field()}{hidden}"
        "<button type='submit'>Sign out</button></form>"
    )
    page = pages.page(
        "Sign out of jot?", "You signed out of the application. Sign out of jot as well, so "
        "that no application signs you in again without your password?", raw=form,
    )  # fmt: skip
    # With no-referrer, a browser sends "Origin: null" with the post, which the CSRF check
    # refuses: this page's own origin may be named.
    page.headers["Referrer-Policy"] = "same-origin"
    return issued.apply(page)


async def confirm(request: Request) -> Response:
    body = await request.body()
    form = dict(parse_qsl(body.decode("utf-8", "replace"))) if len(body) <= MAX_FORM else {}
    authority: Authority = request.app.state.authority
    try:
        authority.forms.verify(request, paths.END_SESSION, form.get(FIELD))
    except CsrfRefused as exc:
        return pages.page("Sign-out failed", str(exc), status=403)
    return await run_in_threadpool(_end, request, authority, form)


def _end(request: Request, authority: Authority, form: dict[str, str]) -> Response:
    me = signin.signed_in(request)
    if me is not None:
        client = request.client.host if request.client else None
        sessions.end(authority, me.session_id, reason="signed out (application)", client=client)
    target = _where_next(authority, form)
    if target is not None:
        state = form.get("state")
        suffix = ("&" if "?" in target else "?") + urlencode({"state": state}) if state else ""
        response: Response = RedirectResponse(target + suffix, status_code=303)
    else:
        response = pages.page("Signed out", "You are signed out of jot.")
    response.delete_cookie(sessions.cookie_name(authority), path="/")
    return response
