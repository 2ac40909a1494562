"""The token endpoint (RFC 6749 §3.2, OIDC Core §3.1.3): ``authorization_code`` and
``refresh_token`` grants, for registered destinations only.

One write transaction per request: a code is marked used (and a replay revokes what the code
made) even when the request is refused, because the refusal is answered after the commit.
Every refusal is audited (``openid.token.refused`` with the reason); refusals of requests
from no known client are folded like other anonymous refusals.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from jot.authority import audit
from jot.authority.clock import to_datetime
from jot.authority.context import Context
from jot.authority.openid import client_auth, clients, codes, issue, paths, signin
from jot.authority.openid.errors import OAuthError
from jot.authority.openid.models import RefreshHandle
from jot.authority.state import Authority

__all__ = ["MAX_FORM", "oauth_error", "read_form", "token_endpoint"]

MAX_FORM = 8192
_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error(exc: OAuthError) -> JSONResponse:
    headers = dict(_HEADERS)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="jot"'
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def read_form(request: Request) -> dict[str, str]:
    """A form-encoded body (RFC 6749 §3.2); a parameter given twice is refused (§3.1)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM:
        raise OAuthError("invalid_request", "the request body is too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise OAuthError("invalid_request", "a parameter was given more than once")
    return form


async def token_endpoint(request: Request) -> JSONResponse:
    try:
        form = await read_form(request)
    except OAuthError as exc:
        return oauth_error(exc)
    return await run_in_threadpool(_token, request, form)


def _token(request: Request, form: dict[str, str]) -> JSONResponse:
    authority: Authority = request.app.state.authority
    address = request.client.host if request.client else None
    refused: OAuthError | None = None
    client: clients.Client | None = None
    with authority.db.transaction(write=True) as session:
        ctx = Context(authority, session, to_datetime(authority.clock()), address)
        try:
            client = client_auth.authenticate(
                session, form, request.headers.get("authorization", ""),
                paths.assertion_audiences(authority), ctx.now,
            )  # fmt: skip
            body = _grant(ctx, client, form)
        except OAuthError as exc:
            refused = exc
            if client is not None:  # A known client is accountable: every refusal is a row.
                ctx.audit("openid.token.refused", client.client_id, reason=exc.reason)
    if refused is not None:
        if client is None:
            _fold(authority, address, form, refused)
        return oauth_error(refused)
    return JSONResponse(body, headers=_HEADERS)


def _fold(authority: Authority, address: str | None, form: dict[str, str], exc: OAuthError) -> None:
    target = (form.get("client_id") or "")[:63] or None
    now = authority.clock()
    detail = authority.refusals.fold(
        now, "openid.token.refused", target, address, {"reason": exc.reason}
    )
    if detail is not None:
        with authority.db.transaction(write=True) as session:
            audit.record(
                session, to_datetime(now), "openid.token.refused",
                actor=None, target=target, client=address, detail=detail,
            )  # fmt: skip


def _grant(ctx: Context, client: clients.Client, form: dict[str, str]) -> dict[str, Any]:
    kind = form.get("grant_type")
    if kind == "authorization_code":
        grant = _from_code(ctx, client, form)
        body = issue.answer(ctx, client, grant, refresh=None)
    elif kind == "refresh_token":
        grant, handle = _from_refresh(ctx, client, form)
        body = issue.answer(ctx, client, grant, refresh=handle)
    else:
        raise OAuthError(
            "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
        )
    ctx.audit("openid.token.issued", client.client_id, grant_type=kind, sub=grant.identity_id)
    return body


def _from_code(ctx: Context, client: clients.Client, form: dict[str, str]) -> codes.Grant:
    if not form.get("code"):
        raise OAuthError("invalid_request", "code is required")
    row = codes.take(
        ctx.session, form["code"], destination_id=client.destination_id,
        redirect_uri=form.get("redirect_uri"), verifier=form.get("code_verifier"), now=ctx.now,
    )  # fmt: skip
    ends = signin.session_end(ctx.session, row.session_id, ctx.now)
    if ends is None:
        raise OAuthError(
            "invalid_grant", "the sign-in behind this code has ended", reason="signed_out"
        )
    return codes.Grant(
        row.destination_id, row.identity_id, row.session_id, row.scope, row.auth_time,
        row.nonce, row.code_hash, ends,
    )  # fmt: skip


def _from_refresh(
    ctx: Context, client: clients.Client, form: dict[str, str]
) -> tuple[codes.Grant, str]:
    handle = form.get("refresh_token") or ""
    row = ctx.session.get(RefreshHandle, codes.digest(handle)) if handle else None
    if row is None or row.destination_id != client.destination_id:
        raise OAuthError("invalid_grant", "unknown refresh token", reason="unknown_refresh")
    if row.revoked is not None or row.expires <= ctx.now:
        raise OAuthError("invalid_grant", "this refresh token has ended", reason="refresh_ended")
    ends = signin.session_end(ctx.session, row.session_id, ctx.now)
    if ends is None:
        # Signed out at the authority: every destination's session ends at its next refresh.
        row.revoked = ctx.now
        raise OAuthError(
            "invalid_grant", "the sign-in behind this token has ended", reason="signed_out"
        )
    grant = codes.Grant(
        row.destination_id, row.identity_id, row.session_id, row.scope, row.auth_time,
        None, row.code_hash, min(ends, row.expires),
    )  # fmt: skip
    return grant, handle
