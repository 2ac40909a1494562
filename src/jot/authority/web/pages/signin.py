"""Sign-in (password or access key) and sign-out.

Both ways make an access key of the browser's own, through the API's handlers (the password
login with its limits and lockout, or a key derived from the pasted one, which it never
outlives), and start a session with it (:mod:`jot.authority.web.sessions`).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from pydantic import ValidationError
from starlette.responses import Response

from jot.api.keys import AccessKeyCreate
from jot.api.session import LoginRequest, WhoAmI
from jot.authority.access import Need
from jot.authority.context import run_as
from jot.authority.errors import APIError
from jot.authority.handlers import keys
from jot.authority.handlers import session as session_handlers
from jot.authority.oidc import providers
from jot.authority.web import sessions
from jot.authority.web.visit import Visit, invalid, local_path

__all__ = ["AGAIN", "sign_in", "sign_in_form", "sign_out"]

#: The parameter that asks for the form although the browser is signed in (an OpenID client
#: asked for a fresh sign-in: prompt=login, max_age).
AGAIN = "again"


def sign_in_form(visit: Visit) -> Response:
    if visit.me is not None and visit.request.query_params.get(AGAIN) != "1":
        return visit.redirect(local_path(visit.request.query_params.get("next")))
    return _form(visit)


def _form(visit: Visit, message: str = "", status: int = 200, name: str = "") -> Response:
    nxt = local_path(visit.request.query_params.get("next") or visit.form.get("next"))
    notice = visit.request.query_params.get("signed_out") == "1"
    names = visit.call(Need.PUBLIC, providers.provider_names).items
    return visit.page(
        "sign_in.html",
        status,
        message=message,
        next=nxt,
        name=name,
        signed_out=notice,
        again=visit.request.query_params.get(AGAIN) == "1",
        providers=[(n, f"/oidc/{quote(n)}/login?{urlencode({'next': nxt})}") for n in names],
    )


def sign_in(visit: Visit) -> Response:
    method = visit.form.get("method", "")
    name = visit.form.get("name", "").strip()
    try:
        if method == "password":
            key, key_id, who = _with_password(visit, name, visit.form.get("password", ""))
            how = "password"
        elif method == "key":
            key, key_id, who = _with_key(visit, visit.form.get("access_key", "").strip())
            how = "access key"
        else:
            return _form(visit, "Choose how to sign in.", 400)
    except ValidationError as exc:
        return _form(visit, invalid(exc), 400, name)
    except APIError as exc:
        response = _form(visit, exc.message, exc.status, name)
        response.headers.update({k: v for k, v in exc.headers.items() if k == "Retry-After"})
        return response
    cookie = sessions.start(
        visit.authority,
        identity_id=who.id,
        name=who.name,
        key_id=key_id,
        key=key,
        method=how,
        client=visit.client,
        user_agent=visit.request.headers.get("user-agent"),
    )
    # Signed in again over a live session (a fresh sign-in): one session per browser, so
    # that signing out ends everything made from either (at each next refresh).
    _end_session(visit, "signed in again")
    visit.drop_cookie = False
    response = visit.redirect(local_path(visit.form.get("next")))
    sessions.set_cookie(response, visit.authority, cookie)
    return response


def _with_password(visit: Visit, name: str, password: str) -> tuple[str, str, WhoAmI]:
    body = LoginRequest.model_validate({"name": name, "password": password})
    made = visit.call(Need.PUBLIC, session_handlers.login, body)
    who = run_as(visit.request, made.access_key, Need.SELF, session_handlers.whoami)
    return made.access_key, who.access_key, who


def _with_key(visit: Visit, pasted: str) -> tuple[str, str, WhoAmI]:
    """A key of the browser's own, derived from the pasted one (which stays the person's:
    signing out of the browser does not end it)."""
    who = run_as(visit.request, pasted, Need.SELF, session_handlers.whoami)
    settings = visit.authority.settings
    body = AccessKeyCreate(
        identity=who.name,
        name=sessions.KEY_NAME,
        ttl=settings.web_session_lifetime,
        inactivity_timeout=settings.web_session_idle,
    )
    made = run_as(visit.request, pasted, Need.SELF, keys.create_access_key, body)
    return made.access_key, made.key.id, who


def _end_session(visit: Visit, reason: str) -> None:
    if visit.session is not None:
        sessions.end(
            visit.authority,
            visit.session.id,
            reason=reason,
            client=visit.client,
            actor=visit.me.name if visit.me else None,
        )


def sign_out(visit: Visit) -> Response:
    _end_session(visit, "signed out")
    visit.drop_cookie = True
    return visit.redirect("/sign-in?signed_out=1")
