"""The OIDC routes: typed admin/API routes for the authority's route table, and the browser
endpoints (redirects, cookies, HTML) that take the request themselves. Their answers carry
secrets or one-time codes: ``Cache-Control: no-store`` and the page headers come from
:class:`jot.authority.middleware.SecurityHeaders`.

``jot.authority.routes`` adds :data:`ROUTES` to its table and :data:`RAW_ROUTES` to its raw
routes; nothing else there knows about OIDC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import select

from jot.api.session import LoginResponse
from jot.api.untrusted import UntrustedJSONError, loads
from jot.authority import audit
from jot.authority.access import Need
from jot.authority.clock import to_datetime
from jot.authority.csrf import FIELD, CsrfRefused
from jot.authority.oidc import flow, handoff, pages, providers
from jot.authority.oidc.errors import LoginRefused
from jot.authority.oidc.models import DeviceRequest, Provider
from jot.authority.state import Authority
from jot.authority.web import sessions as web_sessions

__all__ = ["RAW_RESPONSES", "RAW_ROUTES", "ROUTES"]

# (method, path, handler, need, status, tag): the fields of jot.authority.routes.Route, kept
# as plain tuples so that this module does not import the route table that includes it.
ROUTES: list[tuple[str, str, Callable[..., Any], Need, int, str]] = [
    ("GET", "/api/providers", providers.list_providers, Need.VIEW, 200, "admin"),
    ("POST", "/api/providers", providers.create_provider, Need.ADMIN, 201, "admin"),
    ("GET", "/api/providers/{name}", providers.get_provider, Need.VIEW, 200, "admin"),
    ("PATCH", "/api/providers/{name}", providers.update_provider, Need.ADMIN, 200, "admin"),
    ("DELETE", "/api/providers/{name}", providers.delete_provider, Need.ADMIN, 204, "admin"),
    ("GET", "/api/oidc/providers", providers.provider_names, Need.PUBLIC, 200, "session"),
    ("POST", "/api/oidc/exchange", handoff.exchange, Need.PUBLIC, 200, "session"),
    ("POST", "/api/oidc/device", handoff.start_device, Need.PUBLIC, 200, "session"),
]

_COOKIE = "jot_oidc_"
#: The console's page to land on after a web sign-in through the provider.
_NEXT_COOKIE = "jot_oidc_next"
_MAX_FORM = 4096
# RFC 8252 §7.3: loopback redirects only, any port, for the CLI.
_LOOPBACK = re.compile(r"http://(127\.0\.0\.1|\[::1\]|localhost):\d{1,5}(/[A-Za-z0-9/_-]*)?")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def _authority(request: Request) -> Authority:
    authority: Authority = request.app.state.authority
    return authority


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _refused(exc: LoginRefused) -> Response:
    if exc.redirect is not None:
        return RedirectResponse(exc.redirect, status_code=303)
    return pages.page(
        "Login failed",
        exc.public_message,
        "Nothing was changed. Start the login again.",
        status=exc.status,
    )


def _redirect_with_cookie(authority: Authority, started: flow.Started) -> Response:
    state = dict(parse_qsl(urlsplit(started.url).query)).get("state", "")
    response = RedirectResponse(started.url, status_code=303)
    _login_cookie(response, authority, _COOKIE + flow.sha256(state)[:16], started.browser_secret)
    return response


def _login_cookie(response: Response, authority: Authority, name: str, value: str) -> None:
    """A cookie that lives as long as a login attempt, sent back to the callback only."""
    response.set_cookie(
        name,
        value,
        max_age=int(flow.ATTEMPT_TTL.total_seconds()),
        path="/oidc/",
        secure=authority.settings.issuer_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def login(
    request: Request,
    name: str,
    redirect_uri: str | None = None,
    code_challenge: str | None = None,
    next: str | None = None,
) -> Response:
    """Start a login: from a browser, for the CLI (loopback ``redirect_uri`` + PKCE), or
    for the web console (``next``: the console's page to land on, signed in)."""
    authority = _authority(request)
    mode = "browser" if next is None else "web"
    if redirect_uri is not None or code_challenge is not None:
        if not redirect_uri or not _LOOPBACK.fullmatch(redirect_uri):
            return pages.page(
                "Login failed", "redirect_uri must be a loopback http URL.", status=400
            )
        if not code_challenge or not _CHALLENGE.fullmatch(code_challenge):
            return pages.page(
                "Login failed", "code_challenge must be an S256 PKCE challenge.", status=400
            )
        mode = "cli"
    refused = _too_many_starts(authority, _client(request), name)
    if refused is not None:
        return refused
    try:
        started = flow.start(
            authority,
            name,
            mode=mode,
            client_addr=_client(request),
            cli_redirect=redirect_uri,
            cli_challenge=code_challenge,
        )
    except LoginRefused as exc:
        return _refused(exc)
    response = _redirect_with_cookie(authority, started)
    if mode == "web":
        _login_cookie(response, authority, _NEXT_COOKIE, web_sessions.local_path(next))
    return response


def _too_many_starts(authority: Authority, client: str | None, target: str) -> Response | None:
    """Each login start writes rows: anonymous starts are limited per address and in total."""
    wait = authority.limits.anonymous_start(client)
    if wait <= 0:
        return None
    flow.record_refusal(authority, "oidc.login.start_limited", target, client)
    response = pages.page(
        "Login failed", "Too many logins started from here; try again later.", status=429
    )
    response.headers["Retry-After"] = str(max(1, round(wait)))
    return response


def callback(request: Request, name: str) -> Response:
    """The provider's redirect back (the exact redirect URI registered there)."""
    params = {k: v[:2048] for k, v in request.query_params.items()}
    state = params.get("state", "")
    cookie = _COOKIE + flow.sha256(state)[:16]
    try:
        done = flow.finish(
            _authority(request), name, params, request.cookies.get(cookie), _client(request)
        )
    except LoginRefused as exc:
        response = _refused(exc)
    else:
        response = _signed_in(request, done) if done.mode == "web" else _finished(done)
    response.delete_cookie(cookie, path="/oidc/")
    return response


def _signed_in(request: Request, done: flow.Finished) -> Response:
    """The web console's sign-in: a browser session with the login's key, then the page the
    person came for."""
    authority = _authority(request)
    if done.access_key is None:  # The web mode always hands the key over.
        return pages.page("Login failed", "The login made no key; start it again.", status=500)
    value = web_sessions.start(
        authority,
        identity_id=done.identity_id,
        name=done.identity,
        key_id=done.key_id,
        key=done.access_key,
        method="oidc",
        client=_client(request),
        user_agent=request.headers.get("user-agent"),
    )
    back = web_sessions.local_path(request.cookies.get(_NEXT_COOKIE))
    response = RedirectResponse(back, status_code=303)
    web_sessions.set_cookie(response, authority, value)
    response.delete_cookie(_NEXT_COOKIE, path="/oidc/")
    return response


def _finished(done: flow.Finished) -> Response:
    if done.redirect is not None:
        return RedirectResponse(done.redirect, status_code=303)
    groups = ", ".join(done.groups) or "none"
    if done.access_key is None:
        return pages.page(
            "Logged in",
            f"You are logged in as {done.identity} (groups: {groups}).",
            "Go back to your terminal; you can close this window.",
        )
    return pages.page(
        "Logged in",
        f"You are logged in as {done.identity} (groups: {groups}).",
        "Your access key, shown once (paste it into jot login SERVER --key-stdin):",
        raw=f"<p><code>{done.access_key}</code></p>",
    )


def device_page(request: Request, user_code: str = "") -> Response:
    code = handoff.normalize_user_code(user_code) or user_code[:20]
    return _device_form(request, code)


def _device_form(request: Request, code: str, message: str = "", status: int = 200) -> Response:
    issued = _authority(request).forms.issue(request, pages.DEVICE_ACTION)
    return issued.apply(pages.device_form(code, issued.field(), message, status))


async def _form(request: Request) -> dict[str, str]:
    """A small form body; JSON objects are accepted too (jot's own CLI sends JSON)."""
    body = await request.body()
    if len(body) > _MAX_FORM:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = loads(body, max_bytes=_MAX_FORM)
        except UntrustedJSONError:
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


async def device_confirm(request: Request) -> Response:
    """The person confirmed a user code: start the provider login tied to that device."""
    form = await _form(request)
    typed = form.get("user_code", "")
    try:
        # Without this, one click on another site's page would confirm the attacker's code
        # in the victim's browser and hand the victim's new key to the attacker's CLI.
        _authority(request).forms.verify(request, pages.DEVICE_ACTION, form.get(FIELD))
    except CsrfRefused as exc:
        return _device_form(request, typed[:20], str(exc), status=403)
    return await run_in_threadpool(_device_confirm, request, typed)


def _device_confirm(request: Request, typed: str) -> Response:
    authority = _authority(request)
    client = _client(request)
    if authority.limits.before_user_code(client) > 0:
        flow.record_refusal(authority, "oidc.device.code_limited", None, client)
        return _device_form(request, "", "Too many wrong codes from this address; try later.", 429)
    code = handoff.normalize_user_code(typed)
    now = to_datetime(authority.clock())
    with authority.db.transaction(write=False) as session:
        row = (
            session.scalars(select(DeviceRequest).where(DeviceRequest.user_code == code)).first()
            if code
            else None
        )
        provider = session.get(Provider, row.provider_id) if row is not None else None
    if row is None or provider is None or row.status != "pending" or row.expires <= now:
        # Guessing user codes counts against the address like failed logins do.
        authority.limits.user_code_failed(client)
        flow.record_refusal(authority, "oidc.device.bad_code", None, client)
        return _device_form(
            request, typed[:20], "That code is unknown or expired; check your terminal.", 400
        )
    try:
        started = flow.start(
            authority, provider.name, mode="device", client_addr=client, device_id=row.id
        )
    except LoginRefused as exc:
        return _refused(exc)
    return _redirect_with_cookie(authority, started)


def _answer(error: str, message: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": message, "message": message},
        status_code=status,
    )


async def device_token(request: Request) -> JSONResponse:
    """RFC 8628 §3.4: the CLI polls with its device code (form-encoded, as OAuth does)."""
    form = await _form(request)
    if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" or not form.get(
        "device_code"
    ):
        return _answer(
            "invalid_request", "grant_type must be the device_code grant, with a device_code"
        )
    return await run_in_threadpool(_device_token, request, form["device_code"])


def _device_token(request: Request, device_code: str) -> JSONResponse:
    authority = _authority(request)
    now = to_datetime(authority.clock())
    answer: handoff.DeviceAnswer | None = None
    with authority.db.transaction(write=True) as session:
        try:
            key, identity, expires = handoff.poll_device(authority, session, device_code, now)
        except handoff.DeviceAnswer as exc:
            answer = exc
        else:
            audit.record(
                session,
                now,
                "oidc.login.handed_over",
                actor=identity,
                target=None,
                client=_client(request),
                detail={"mode": "device"},
            )
    if answer is not None:
        return _answer(answer.error, answer.message, answer.status)
    body = LoginResponse(access_key=key, identity=identity, expires=expires)
    return JSONResponse(body.model_dump(mode="json"))


# (method, path, endpoint, tag), as jot.authority.routes.RAW_ROUTES.
RAW_ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/oidc/{name}/login", login, "login"),
    ("GET", "/oidc/{name}/callback", callback, "login"),
    ("GET", "/oidc/device", device_page, "login"),
    ("POST", "/oidc/device", device_confirm, "login"),
    ("POST", "/api/oidc/device/token", device_token, "session"),
]

_HTML: dict[str, Any] = {"content": {"text/html": {}}, "description": "An HTML page"}
_TO_PROVIDER: dict[str, Any] = {"description": "Redirect to the provider's login page"}
_PAGES: dict[int | str, dict[str, Any]] = {
    200: _HTML,
    303: _TO_PROVIDER,
    400: _HTML,
    403: _HTML,
    404: _HTML,
    429: _HTML,
    502: _HTML,
}
_OAUTH_ERROR: dict[str, Any] = {
    "description": "An RFC 8628 error (authorization_pending, slow_down, access_denied, …)",
    "content": {"application/json": {"schema": {"type": "object"}}},
}

# path -> documented answers, merged into the route table's OpenAPI documentation.
RAW_RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {
    "/oidc/{name}/login": _PAGES,
    "/oidc/{name}/callback": _PAGES,
    "/oidc/device": _PAGES,
    "/api/oidc/device/token": {
        200: {"model": LoginResponse, "description": "The access key"},
        400: _OAUTH_ERROR,
    },
}
