"""Where the provider's endpoints live, under the issuer URL (listed in the discovery
document, so relying parties never guess them)."""

from __future__ import annotations

from jot.authority.state import Authority

__all__ = [
    "AUTHORIZE",
    "END_SESSION",
    "TOKEN",
    "USERINFO",
    "assertion_audiences",
    "url",
]

AUTHORIZE = "/oidc/authorize"
TOKEN = "/oidc/token"
USERINFO = "/oidc/userinfo"
END_SESSION = "/oidc/logout"


def url(authority: Authority, path: str) -> str:
    return authority.settings.issuer_url + path


def assertion_audiences(authority: Authority) -> tuple[str, ...]:
    """What a private_key_jwt assertion's ``aud`` may name: the token endpoint (RFC 7523
    §3) or the issuer (which several client libraries send)."""
    return (url(authority, TOKEN), authority.settings.issuer_url)
