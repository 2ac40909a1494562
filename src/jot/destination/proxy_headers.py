"""Header rules of the reverse proxy, without I/O.

Infra's connector appended its ``Impersonate-Group`` headers to the client's and let a client
name them in ``Connection:`` so that they were dropped after being set (DESIGN.md). Here the
order is fixed: first remove the client's ``Authorization`` and ``Proxy``, every ``Impersonate-*``,
``X-Jot-*`` and ``X-Remote-*`` header (Kubernetes' front-proxy headers), every header the
operator listed, every hop-by-hop header and every header the client named in
``Connection``; only then add ours. Nothing after us reads the client's ``Connection``.
Names are compared as an upstream may read them (:func:`normalised`): CGI and WSGI servers
turn both ``X-Jot-User`` and ``X_Jot_User`` into ``HTTP_X_JOT_USER``.

Before that, a request that two HTTP parsers could frame differently is refused (400, see
:func:`framing_problem`): an upstream that reads ``Content-Length`` where the proxy read
``Transfer-Encoding`` takes the rest of the body for a second request, sent on the proxy's
connection with the proxy's credential and any identity headers the client wrote into it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from jot.destination._kubernetes import kubernetes_user
from jot.destination.forward_auth import identity_headers
from jot.destination.identity import Identity

__all__ = [
    "DEFAULT_UPGRADES",
    "HOP_BY_HOP",
    "HeaderRules",
    "Headers",
    "IdentityHeaders",
    "connection_tokens",
    "framing_problem",
    "has_obs_fold",
    "normalised",
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
# X-Remote-User/-Group/-Extra-*: an API server that trusts the proxy's client certificate for
# front-proxy authentication (--requestheader-*) takes the user from them. ``Proxy:`` becomes
# HTTP_PROXY in CGI and WSGI upstreams, which many HTTP clients read as their proxy (httpoxy).
_REQUEST_STRIPPED = frozenset(
    {b"authorization", b"expect", b"proxy", b"x-remote-user", b"x-remote-group"}
)
_STRIPPED_PREFIXES = (b"impersonate-", b"x-jot-", b"x-remote-extra-")
#: Upgrades allowed unless configured otherwise: WebSockets, and SPDY/3.1 for ``kubectl exec``,
#: ``attach`` and ``port-forward``. An ``h2c`` upgrade would open an HTTP/2 connection to the
#: upstream whose requests the proxy never sees.
DEFAULT_UPGRADES = frozenset({b"websocket", b"spdy/3.1"})
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PROTOCOL = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+(/[!#$%&'*+.^_`|~0-9A-Za-z-]+)?")


def normalised(name: bytes) -> bytes:
    """A header name as upstreams may read it: letter case and ``-``/``_`` do not count."""
    return name.lower().replace(b"_", b"-")


@dataclass(frozen=True, slots=True)
class HeaderRules:
    """The operator's part: more request headers to strip, and the upgrades allowed."""

    strip: frozenset[bytes] = frozenset()
    strip_prefixes: tuple[bytes, ...] = ()
    upgrades: frozenset[bytes] = DEFAULT_UPGRADES

    @classmethod
    def of(cls, strip: Iterable[str] = (), upgrades: Iterable[str] = ()) -> HeaderRules:
        """Rules from option values: header names to strip (``X-Internal-*`` strips every
        name with that prefix) and upgrade protocols to allow besides the defaults.

        :raises ValueError: a name or a protocol that is not an HTTP token.
        """
        names: set[bytes] = set()
        prefixes: list[bytes] = []
        for text in strip:
            raw = text.encode("latin-1", "replace")
            name = raw.removesuffix(b"*")
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"not a header name: {text!r}")
            if raw.endswith(b"*"):
                prefixes.append(normalised(name))
            else:
                names.add(normalised(name))
        allowed = set(DEFAULT_UPGRADES)
        for text in upgrades:
            protocol = text.encode("latin-1", "replace")
            if not _PROTOCOL.fullmatch(protocol):
                raise ValueError(f"not an upgrade protocol: {text!r}")
            allowed.add(protocol.lower())
        return cls(frozenset(names), tuple(prefixes), frozenset(allowed))


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
    """The ``Upgrade`` protocols (all of them) when the request asks for an upgrade
    (``Connection: upgrade``)."""
    if b"upgrade" not in connection_tokens(headers):
        return None
    values = [value.strip() for name, value in headers if name.lower() == b"upgrade"]
    joined = b", ".join(value for value in values if value)
    return joined or None


def framing_problem(target: bytes, headers: Headers, head: bytes, rules: HeaderRules) -> str | None:
    """Why a request must be refused before it is verified (answer 400), or None.

    ``head`` is the request's raw head, for obs-fold. h11 has refused conflicting
    ``Content-Length`` values, ``Transfer-Encoding`` other than ``chunked`` and invalid
    header names already.
    """
    names = {name.lower() for name, _ in headers}
    if b"transfer-encoding" in names and b"content-length" in names:
        # RFC 9112 §6.1: a proxy must not forward both.
        return "Transfer-Encoding and Content-Length together"
    if has_obs_fold(head):
        return "obs-fold"
    if not target.startswith(b"/"):
        # Absolute-form or authority-form targets would be glued onto the upstream path.
        return "not an origin-form target"
    upgrade = upgrade_of(headers)
    if upgrade is not None:
        for protocol in upgrade.split(b","):
            if protocol.strip().lower() not in rules.upgrades:
                return f"upgrade to {protocol.strip()[:40]!r} not allowed"
    return None


# h11 ends a head at a blank line, after CRLF or a bare LF.
_HEAD_END = re.compile(rb"\n\r?\n")


def has_obs_fold(head: bytes) -> bool:
    """Whether the raw request head (request line first) continues a header line on the next
    (obs-fold, RFC 9112 §5.2). h11 unfolds such lines; other parsers take them for headers
    of their own, so the proxy refuses them."""
    end = _HEAD_END.search(head)
    section = head[: end.start() + 1] if end else head
    return re.search(rb"\n[ \t]", section) is not None


def _filtered(headers: Headers, rules: HeaderRules | None = None) -> Headers:
    """``headers`` without the ones never passed on; ``rules`` for a request, None for a
    response."""
    named = {normalised(token) for token in connection_tokens(headers)} - _PROTECTED
    kept = []
    for name, value in headers:
        lower = name.lower()
        norm = lower.replace(b"_", b"-")
        if norm in HOP_BY_HOP or norm in named or norm.startswith(_STRIPPED_PREFIXES):
            continue
        if rules is not None and (
            norm in _REQUEST_STRIPPED
            or norm in rules.strip
            or norm.startswith(rules.strip_prefixes)
        ):
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
        """Our identity headers; :class:`ForbiddenError` for a name Kubernetes reserves."""
        if not self.kubernetes:
            return identity_headers(identity)
        user = kubernetes_user(identity, self.group_prefix, self.role_prefix)
        headers = [(b"impersonate-user", _header_value(user.username))]
        headers += [(b"impersonate-group", _header_value(group)) for group in user.groups]
        return headers


def _header_value(value: str) -> bytes:
    # h11 refuses control characters anyway; this keeps non-ASCII names intact as UTF-8.
    return value.encode("utf-8")


def request_headers(
    headers: Headers,
    ours: Headers,
    *,
    host: bytes,
    credential: str | None,
    rules: HeaderRules | None = None,
) -> Headers:
    """The upstream request's headers: the client's, cleaned, then ``ours`` (the identity)."""
    chunked = any(name.lower() == b"transfer-encoding" for name, _ in headers)
    upgrade = upgrade_of(headers)
    out = [(n, v) for n, v in _filtered(headers, rules or HeaderRules()) if n != b"host"]
    out.insert(0, (b"host", host))
    if chunked:
        # One framing only (framing_problem refuses both; this keeps it true regardless).
        out = [(n, v) for n, v in out if n != b"content-length"]
        out.append((b"transfer-encoding", b"chunked"))
    if upgrade is not None:
        out += [(b"connection", b"upgrade"), (b"upgrade", upgrade)]
    if credential:
        out.append((b"authorization", b"Bearer " + credential.encode("ascii")))
    return out + ours


def response_headers(headers: Headers, *, switching: bool = False) -> Headers:
    """The upstream response's headers for the client; framing is redone by h11."""
    out = _filtered(headers)
    if switching:
        upgrade = upgrade_of(headers)
        out += [(b"connection", b"upgrade")]
        if upgrade is not None:
            out.append((b"upgrade", upgrade))
    return out
