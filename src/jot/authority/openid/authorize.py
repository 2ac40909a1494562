"""The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2): the browser arrives from a
registered destination, signs in once at the authority (its browser session serves every
destination after that: single sign-on), and goes back with a one-time code.

Until the client and its exact redirect URI are known, a problem is shown as a page here and
never redirected anywhere (RFC 6749 §4.1.2.1: an unchecked redirect is an open redirect).
After that, problems go back to the client as ``error`` parameters. No consent page: the
clients are the operator's own registered destinations. A person without a grant on the
destination gets a clear page, not a code.

``prompt=login``, and ``max_age`` when the sign-in is older (OIDC Core §3.1.2.1), send the
browser to sign in again even with a live session; the ID token's ``auth_time`` is then the
new sign-in's. ``prompt=none`` never shows a page: ``login_required`` goes back instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from jot.authority import access, audit, tokens
from jot.authority.authcache import Caller
from jot.authority.clock import to_datetime
from jot.authority.errors import Forbidden, NotFound
from jot.authority.models import Identity
from jot.authority.oidc import pages
from jot.authority.openid import clients, codes, discovery, paths, signin
from jot.authority.openid.errors import OAuthError
from jot.authority.openid.token import MAX_FORM
from jot.authority.state import Authority

__all__ = ["authorize"]

_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# Added to the request when the browser is sent to sign in. The sign-in page's policy lets
# its form lead only to this site (CSP form-action 'self'), and a browser applies that to
# every redirect after the post: so the way back to the client is then a page that moves on
# by itself (a meta refresh is a new navigation), not a redirect.
_AFTER_SIGN_IN = "jot_signed_in"
# Added with it when the sign-in had to be a fresh one (prompt=login, max_age): the time the
# browser was sent, which the new sign-in must be later than. The person could remove it, as
# they could remove prompt=login itself; the relying party checks auth_time (§3.1.2.1).
_SIGNED_IN_AFTER = "jot_fresh_after"
# Parameter values longer than this are refused (a state or nonce is a few dozen characters).
_MAX_VALUE = 1024


@dataclass(frozen=True)
class _Ask:
    """A checked authorization request."""

    client: clients.Client
    redirect_uri: str
    after_sign_in: bool
    state: str | None
    scope: str
    nonce: str | None
    challenge: str | None
    prompts: frozenset[str]
    #: The longest ago the person may have signed in, in seconds (``max_age``).
    max_age: int | None
    #: Back from a fresh sign-in: it must have happened after this.
    fresh_after: datetime | None

    @property
    def prompt_none(self) -> bool:
        return "none" in self.prompts


class _Page(Exception):
    """A refusal shown as a page (the redirect URI is not trusted yet, or there is no grant)."""

    def __init__(self, status: int, title: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.reason = status, title, message, reason


async def authorize(request: Request) -> Response:
    """GET with a query, or POST with a form (OIDC Core §3.1.2.1 allows both)."""
    if request.method == "POST":
        body = await request.body()
        raw = body.decode("utf-8", "replace") if len(body) <= MAX_FORM else ""
    else:
        raw = request.url.query
    return await run_in_threadpool(_authorize, request, raw)


def _authorize(request: Request, raw: str) -> Response:
    authority: Authority = request.app.state.authority
    address = request.client.host if request.client else None
    try:
        params = _params(raw)
        ask = _ask(authority, params)
    except _Page as page:
        _record(authority, "openid.authorize.refused", None, address, page.reason, fold=True)
        return pages.page(page.title, page.message, status=page.status)
    try:
        return _answer(request, authority, ask, params, address)
    except OAuthError as exc:
        target = ask.client.client_id
        _record(authority, "openid.authorize.refused", target, address, exc.reason, fold=True)
        return _back(authority, ask, {"error": exc.error, "error_description": exc.description})
    except _Page as page:
        _record(authority, "openid.authorize.denied", ask.client.client_id, address, page.reason)
        return pages.page(page.title, page.message, status=page.status)


def _params(raw: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True)
    except ValueError:
        pairs = []
    params = {k: v for k, v in pairs if v != ""}  # OAuth 2.0 §3.1: empty means absent.
    if len({k for k, _ in pairs}) != len(pairs) or any(
        len(v) > _MAX_VALUE for v in params.values()
    ):
        raise _Page(400, "Sign-in failed", "The sign-in request is malformed.", "malformed")
    return params


def _ask(authority: Authority, params: dict[str, str]) -> _Ask:
    """The client and its redirect URI, checked exactly; then everything else, whose
    problems can be sent back to that URI."""
    client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
    with authority.db.transaction(write=False) as session:
        client = clients.find(session, client_id) if client_id else None
    if client is None:
        raise _Page(
            400, "Sign-in failed", "The application is not registered with jot.", "unknown_client"
        )
    if redirect_uri not in client.redirect_uris:
        # Exact string comparison (OAuth 2.0 Security BCP §4.1.3): no prefixes, no patterns.
        raise _Page(
            400,
            "Sign-in failed",
            "The application's redirect URI is not registered.",
            "bad_redirect_uri",
        )
    challenge = params.get("code_challenge")
    return _Ask(
        client,
        redirect_uri,
        params.pop(_AFTER_SIGN_IN, None) == "1",
        params.get("state"),
        params.get("scope", ""),
        params.get("nonce"),
        challenge,
        frozenset(params.get("prompt", "").split()),
        _seconds(params.get("max_age")),
        _instant(params.pop(_SIGNED_IN_AFTER, None)),
    )


def _seconds(value: str | None) -> int | None:
    """``max_age``: a count of seconds; anything else is not a request we can honour."""
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return -1  # Refused by _check, where the error can go back to the client.
    return int(value)


def _instant(value: str | None) -> datetime | None:
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    return to_datetime(float(value))


def _check(ask: _Ask, params: dict[str, str]) -> None:
    """Everything about the request that is not about who the person is."""
    if "request" in params or "request_uri" in params:
        name = "request" if "request" in params else "request_uri"
        raise OAuthError(f"{name}_not_supported", f"the {name} parameter is not supported")
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "response_type must be code")
    if "openid" not in ask.scope.split():
        raise OAuthError("invalid_scope", "scope must include openid")
    method = params.get("code_challenge_method", "plain" if ask.challenge else None)
    if ask.challenge is not None and (method != "S256" or not _CHALLENGE.fullmatch(ask.challenge)):
        # RFC 7636 §4.2: only S256 is supported (listed in the discovery document).
        raise OAuthError(
            "invalid_request", "code_challenge must be an S256 challenge", reason="pkce"
        )
    if ask.challenge is None and (ask.client.public or "code_challenge_method" in params):
        raise OAuthError(
            "invalid_request", "a public client must send a PKCE code_challenge", reason="pkce"
        )
    if ask.prompts - set(discovery.PROMPTS) or (ask.prompt_none and len(ask.prompts) > 1):
        raise OAuthError(
            "invalid_request", "prompt may be none alone, or login and consent", reason="prompt"
        )
    if ask.max_age is not None and ask.max_age < 0:
        raise OAuthError("invalid_request", "max_age must be a number of seconds", reason="max_age")


def _too_old(ask: _Ask, me: signin.SignedIn, now: datetime) -> bool:
    """Whether the request asks for a sign-in fresher than the session's (OIDC Core
    §3.1.2.1: prompt=login, max_age)."""
    if ask.fresh_after is not None:
        # Back from the sign-in this request sent the browser to: it must be that one.
        return me.auth_time < ask.fresh_after
    if "login" in ask.prompts:
        return True
    return ask.max_age is not None and now - me.auth_time > timedelta(seconds=ask.max_age)


def _answer(
    request: Request, authority: Authority, ask: _Ask, params: dict[str, str], address: str | None
) -> Response:
    _check(ask, params)
    me = signin.signed_in(request)
    now = to_datetime(authority.clock())
    if me is None or _too_old(ask, me, now):
        if ask.prompt_none:
            raise OAuthError("login_required", "a sign-in at jot is needed")
        # Back here after the sign-in, with the same request (a POST becomes a GET).
        back = {**params, _AFTER_SIGN_IN: "1"}
        if me is not None:
            # A fresh sign-in although one is live: the sign-in page must not skip its form.
            back[_SIGNED_IN_AFTER] = str(int(now.timestamp()))
        url = signin.sign_in_url(f"{paths.AUTHORIZE}?{urlencode(back)}", again=me is not None)
        return RedirectResponse(url, 303)
    with authority.db.transaction(write=True) as session:
        identity = session.get(Identity, me.identity_id)
        if identity is None:
            raise OAuthError("access_denied", "the signed-in identity no longer exists")
        caller = Caller(identity.id, identity.name, identity.kind)
        try:
            tokens.granting(
                session, caller, access.group_names(session, identity.id), ask.client.client_id
            )
        except (Forbidden, NotFound):
            raise _Page(
                403,
                "No access",
                f"{identity.name} has no access to {ask.client.client_id}. "
                "Ask an admin for a grant on it.",
                "no_grant",
            ) from None
        code = codes.issue(
            session,
            destination_id=ask.client.destination_id,
            identity_id=identity.id,
            session_id=me.session_id,
            redirect_uri=ask.redirect_uri,
            challenge=ask.challenge,
            nonce=ask.nonce,
            scope=_scope(ask.scope),
            auth_time=me.auth_time,
            now=now,
        )
        audit.record(
            session,
            now,
            "openid.code.issued",
            actor=identity.name,
            target=ask.client.client_id,
            client=address,
            detail={"pkce": ask.challenge is not None},
        )
    return _back(authority, ask, {"code": code})


def _scope(asked: str) -> str:
    """The scopes granted: the supported ones asked for (unknown ones are ignored, §3.3)."""
    return " ".join(s for s in dict.fromkeys(asked.split()) if s in discovery.SCOPES)


def _back(authority: Authority, ask: _Ask, values: dict[str, str]) -> Response:
    """To the client's redirect URI with ``values``, ``state`` and (RFC 9207) ``iss``; the
    URI's own query is kept (RFC 6749 §3.1.2)."""
    if ask.state is not None:
        values["state"] = ask.state
    values["iss"] = authority.settings.issuer_url
    parts = urlsplit(ask.redirect_uri)
    query = "&".join(q for q in (parts.query, urlencode(values)) if q)
    target = urlunsplit(parts._replace(query=query))
    if not ask.after_sign_in:
        return RedirectResponse(target, status_code=303)
    url = escape(target, quote=True)
    return pages.page(
        "Signed in",
        f"Going back to {ask.client.client_id}…",
        raw=f"<p><a href='{url}'>Continue</a></p>",
        head=f"<meta http-equiv='refresh' content='0;url={url}'>",
    )


def _record(
    authority: Authority,
    kind: str,
    target: str | None,
    address: str | None,
    reason: str,
    *,
    fold: bool = False,
) -> None:
    now = authority.clock()
    detail: dict[str, object] | None = {"reason": reason}
    if fold:  # Anyone can send these: repeats are folded (one row a minute says how many).
        detail = authority.refusals.fold(now, kind, target, address, {"reason": reason})
    if detail is None:
        return
    with authority.db.transaction(write=True) as session:
        audit.record(
            session,
            to_datetime(now),
            kind,
            actor=None,
            target=target,
            client=address,
            detail=detail,
        )
