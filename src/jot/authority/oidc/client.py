"""The relying party's calls to the provider: code exchange, refresh, userinfo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from jot.authority.oidc.discovery import Metadata
from jot.authority.oidc.errors import LoginRefused, ProviderUnavailable
from jot.authority.oidc.http import request_json

__all__ = ["Credentials", "TokenAnswer", "exchange_code", "refresh", "userinfo"]


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str | None


@dataclass(frozen=True)
class TokenAnswer:
    """A successful token response (RFC 6749 §5.1); ``id_token`` may be absent on refresh."""

    id_token: str | None
    access_token: str
    refresh_token: str | None


@dataclass(frozen=True)
class Refused:
    """An error token response (RFC 6749 §5.2): the provider said no."""

    error: str
    description: str


def _auth(creds: Credentials, form: dict[str, str]) -> httpx.BasicAuth | None:
    if creds.client_secret is None:
        form["client_id"] = creds.client_id  # A public client names itself in the body.
        return None
    # client_secret_basic (RFC 6749 §2.3.1): both parts form-urlencoded before encoding.
    from urllib.parse import quote

    return httpx.BasicAuth(quote(creds.client_id, safe=""), quote(creds.client_secret, safe=""))


def _parse(status: int, body: dict[str, Any]) -> TokenAnswer | Refused:
    if status != 200:
        error = body.get("error")
        if status in (400, 401) and isinstance(error, str):
            description = body.get("error_description")
            return Refused(error[:100], str(description)[:200] if description else "")
        raise ProviderUnavailable(f"the provider's token endpoint answered HTTP {status}")
    access = body.get("access_token")
    id_token = body.get("id_token")
    refresh_token = body.get("refresh_token")
    if not isinstance(access, str) or not isinstance(body.get("token_type"), str):
        raise ProviderUnavailable("the provider's token answer has no access_token/token_type")
    if id_token is not None and not isinstance(id_token, str):
        raise ProviderUnavailable("the provider's token answer has a malformed id_token")
    return TokenAnswer(id_token, access, refresh_token if isinstance(refresh_token, str) else None)


def _token(
    http: httpx.Client, meta: Metadata, creds: Credentials, form: dict[str, str]
) -> TokenAnswer | Refused:
    auth = _auth(creds, form)
    status, body = request_json(
        http,
        "POST",
        meta.token_endpoint,
        what="token endpoint",
        data=form,
        auth=auth,
        headers={"Accept": "application/json"},
    )
    return _parse(status, body)


def exchange_code(
    http: httpx.Client,
    meta: Metadata,
    creds: Credentials,
    *,
    code: str,
    redirect_uri: str,
    verifier: str,
) -> TokenAnswer:
    """RFC 6749 §4.1.3 with the PKCE verifier (RFC 7636 §4.5)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    answer = _token(http, meta, creds, form)
    if isinstance(answer, Refused):
        raise LoginRefused(
            "code_refused", f"the provider refused the authorization code ({answer.error})"
        )
    if answer.id_token is None:
        raise ProviderUnavailable("the provider's token answer has no id_token")
    return answer


def refresh(
    http: httpx.Client, meta: Metadata, creds: Credentials, token: str
) -> TokenAnswer | Refused:
    """RFC 6749 §6; a :class:`Refused` means the provider no longer vouches for the user."""
    return _token(http, meta, creds, {"grant_type": "refresh_token", "refresh_token": token})


def userinfo(http: httpx.Client, meta: Metadata, access_token: str, subject: str) -> dict[str, Any]:
    """The UserInfo claims; their ``sub`` must be the ID token's (Core §5.3.2)."""
    if meta.userinfo_endpoint is None:
        return {}
    status, body = request_json(
        http,
        "GET",
        meta.userinfo_endpoint,
        what="userinfo",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    if status != 200:
        raise ProviderUnavailable(f"the provider's userinfo endpoint answered HTTP {status}")
    if body.get("sub") != subject:
        raise LoginRefused("userinfo_mismatch", "the provider's userinfo is about another user")
    return body
