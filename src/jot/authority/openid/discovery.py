"""The discovery document (OpenID Connect Discovery 1.0 §3): exactly what this provider
supports, and nothing it does not (a relying party chooses from this list)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from jot.authority.openid import clients, paths
from jot.authority.state import Authority

__all__ = ["CLAIMS", "PROMPTS", "SCOPES", "openid_configuration"]

#: The scopes a client may ask for; ``profile`` and ``groups`` add nothing the ID token does
#: not carry anyway, but relying parties ask for them by habit.
SCOPES = ("openid", "profile", "groups")
#: The ``prompt`` values honoured (``consent`` asks for nothing: there is no consent page for
#: the operator's own destinations).
PROMPTS = ("none", "login", "consent")
CLAIMS = (
    "iss", "sub", "aud", "iat", "exp", "auth_time", "nonce", "at_hash",
    "name", "preferred_username", "groups",
)  # fmt: skip


def openid_configuration(request: Request) -> dict[str, Any]:
    authority: Authority = request.app.state.authority
    issuer = authority.settings.issuer_url
    return {
        "issuer": issuer,
        "authorization_endpoint": paths.url(authority, paths.AUTHORIZE),
        "token_endpoint": paths.url(authority, paths.TOKEN),
        "userinfo_endpoint": paths.url(authority, paths.USERINFO),
        "end_session_endpoint": paths.url(authority, paths.END_SESSION),
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [authority.settings.signing_alg],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt", "none",
        ],
        "token_endpoint_auth_signing_alg_values_supported": list(clients.ASSERTION_ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS),
        "prompt_values_supported": list(PROMPTS),
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }  # fmt: skip
