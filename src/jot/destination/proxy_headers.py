"""Header rules of the reverse proxy, without I/O.

Infra's connector appended its ``Impersonate-Group`` headers to the client's and let a client
name them in ``Connection:`` so that they were dropped after being set (DESIGN.md). Here the
order is fixed: first remove the client's ``Authorization``, every ``Impersonate-*`` and
``X-Jot-*`` header, every hop-by-hop header and every header the client named in
``Connection``; only then add ours. Nothing after us reads the client's ``Connection``.
"""

from __future__ import annotations

from dataclasses import dataclass

from jot.destination.forward_auth import identity_headers
from jot.destination.identity import Identity

__all__ = [
    "HOP_BY_HOP",
    "Headers",
    "IdentityHeaders",
    "connection_tokens",
    "request_headers",
    "response_headers",
    "upgrade_of",
]

Headers = list[tuple[bytes, bytes]]

#: RFC 9110 §7.6.1 and the usual extras; never forwarded as they came.
HOP_BY_HOP = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
        b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade",
    }
)  # fmt: skip
# Framing and routing headers a client cannot ask us to drop by naming them in Connection.
_PROTECTED = frozenset({b"content-length", b"host"})
# The proxy answers ``Expect: 100-continue`` itself (see proxy.py), so the upstream never waits.
_REQUEST_STRIPPED = frozenset({b"authorization", b"expect"})
_STRIPPED_PREFIXES = (b"impersonate-", b"x-jot-")


def connection_tokens(headers: Headers) -> frozenset[bytes]:
    """Header names listed in ``Connection`` (lower-case)."""
    return frozenset(
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
        if token.strip()
    )


def upgrade_of(headers: Headers) -> bytes | None:
    """The ``Upgrade`` protocol when the request asks for one (``Connection: upgrade``)."""
    if b"upgrade" not in connection_tokens(headers):
        return None
    values = [value.strip() for name, value in headers if name.lower() == b"upgrade"]
    return values[0] if values and values[0] else None


def _filtered(headers: Headers, extra_stripped: frozenset[bytes] = frozenset()) -> Headers:
    named = connection_tokens(headers) - _PROTECTED
    kept = []
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in named or lower in extra_stripped:
            continue
        if lower.startswith(_STRIPPED_PREFIXES):
            continue
        kept.append((lower, value))
    return kept


@dataclass(frozen=True, slots=True)
class IdentityHeaders:
    """How the proxy tells the upstream who is calling."""

    kubernetes: bool = False
    group_prefix: str = ""
    role_prefix: str | None = None

    def render(self, identity: Identity) -> Headers:
        if not self.kubernetes:
            return identity_headers(identity)
        headers = [(b"impersonate-user", _header_value(identity.name))]
        groups = [self.group_prefix + group for group in identity.groups]
        if self.role_prefix is not None:
            groups += [self.role_prefix + role for role in sorted(identity.roles)]
        headers += [(b"impersonate-group", _header_value(group)) for group in groups]
        return headers


def _header_value(value: str) -> bytes:
    # h11 refuses control characters anyway; this keeps non-ASCII names intact as UTF-8.
    return value.encode("utf-8")


def request_headers(
    headers: Headers,
    identity: Identity,
    rendering: IdentityHeaders,
    *,
    host: bytes,
    credential: str | None,
) -> Headers:
    """The upstream request's headers: the client's, cleaned, then ours."""
    had_chunked = any(
        name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
        for name, value in headers
    )
    upgrade = upgrade_of(headers)
    out = [(n, v) for n, v in _filtered(headers, _REQUEST_STRIPPED) if n != b"host"]
    out.insert(0, (b"host", host))
    if had_chunked:
        out.append((b"transfer-encoding", b"chunked"))
    if upgrade is not None:
        out += [(b"connection", b"upgrade"), (b"upgrade", upgrade)]
    if credential:
        out.append((b"authorization", b"Bearer " + credential.encode("ascii")))
    return out + rendering.render(identity)


def response_headers(headers: Headers, *, switching: bool = False) -> Headers:
    """The upstream response's headers for the client; framing is redone by h11."""
    out = _filtered(headers)
    if switching:
        upgrade = upgrade_of(headers)
        out += [(b"connection", b"upgrade")]
        if upgrade is not None:
            out.append((b"upgrade", upgrade))
    return out
