"""The UserInfo endpoint (OIDC Core §5.3): the jot profile of the bearer of an access token
that this authority issued for a registered client.

The access token is a jot (``typ`` jot+jwt); it is verified with the authority's own
published keys, exactly as a destination would, then the identity is read fresh.
"""

from __future__ import annotations

from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from jot.authority import access, tokens
from jot.authority.authcache import Caller
from jot.authority.context import bearer_of
from jot.authority.errors import Forbidden, NotFound
from jot.authority.models import Identity
from jot.authority.openid import clients, verify
from jot.authority.state import Authority

__all__ = ["userinfo"]


def _refused(description: str) -> JSONResponse:
    # RFC 6750 §3.1: invalid_token, in the challenge and in the body.
    challenge = f'Bearer realm="jot", error="invalid_token", error_description="{description}"'
    return JSONResponse(
        {"error": "invalid_token", "error_description": description},
        status_code=401,
        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
    )


async def userinfo(request: Request) -> JSONResponse:
    token = bearer_of(request)
    if token is None:
        return JSONResponse(
            {"error": "invalid_request", "error_description": "a bearer access token is required"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="jot"', "Cache-Control": "no-store"},
        )
    return await run_in_threadpool(_userinfo, request.app.state.authority, token)


def _userinfo(authority: Authority, token: str) -> JSONResponse:
    # The aud read unverified only picks the client; the signature check below decides.
    audience = verify.unverified_claim(token, "aud")
    with authority.db.transaction(write=False) as session:
        client = clients.find(session, audience) if audience else None
        if client is None:
            return _refused("the token is not for a registered client")
        try:
            claims = verify.access_token(
                token, authority.keyring.jwks(), issuer=authority.settings.issuer_url,
                audience=client.client_id, leeway=authority.settings.clock_skew,
                now=authority.clock(),
            )  # fmt: skip
        except verify.VerifyError as exc:
            return _refused(f"the access token is not valid ({exc})")
        identity = session.get(Identity, claims["sub"])
        if identity is None:
            return _refused("the identity no longer exists")
        caller = Caller(identity.id, identity.name, identity.kind)
        try:
            groups = tokens.granting(
                session, caller, access.group_names(session, identity.id), client.client_id
            )
        except (Forbidden, NotFound):
            return _refused("no grant on this client's destination any more")
    body: dict[str, Any] = {
        "sub": identity.id,
        "name": identity.name,
        "preferred_username": identity.name,
        "groups": list(groups),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
