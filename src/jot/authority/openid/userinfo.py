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

from jot.api import TOKEN_TYPE
from jot.authority import access
from jot.authority.context import bearer_of
from jot.authority.handlers.session import granted_groups
from jot.authority.models import Identity
from jot.authority.openid import clients
from jot.authority.state import Authority
from jot.jose import KeySet, jwt
from jot.jose.errors import JoseError
from jot.jose.hazmat import decode_unverified

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


def _audience(token: str) -> str | None:
    try:
        payload = decode_unverified(token).payload
    except JoseError:
        return None
    aud = payload.get("aud") if isinstance(payload, dict) else None
    return aud if isinstance(aud, str) else None


def _userinfo(authority: Authority, token: str) -> JSONResponse:
    # The aud read unverified only picks the client; the signature check below decides.
    audience = _audience(token)
    with authority.db.transaction(write=False) as session:
        client = clients.find(session, audience) if audience else None
        if client is None:
            return _refused("the token is not for a registered client")
        try:
            claims = jwt.decode(
                token, KeySet.from_dict(authority.keyring.jwks()),
                issuer=authority.settings.issuer_url,
                audience=client.client_id, typ=TOKEN_TYPE, require=("exp", "sub", "jti"),
                leeway=authority.settings.clock_skew, now=authority.clock(),
            )  # fmt: skip
        except JoseError as exc:
            return _refused(f"the access token is not valid ({exc.error})")
        identity = session.get(Identity, claims["sub"])
        if identity is None:
            return _refused("the identity no longer exists")
        mentioned = granted_groups(session, client.destination_id)
        groups = [g for g in access.group_names(session, identity.id) if g in mentioned]
    body: dict[str, Any] = {
        "sub": identity.id,
        "name": identity.name,
        "preferred_username": identity.name,
        "groups": groups,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
