"""The proxy forwards nothing it should not: framing two parsers read differently is refused,
identity headers are stripped however they are spelled, only the upgrades a destination needs
pass, two credentials are refused, and Kubernetes never sees a reserved user name.

Against a real upstream that reads ``Content-Length`` first (rawhttp.py), with the bytes on
the wire written by hand.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from jot.destination.proxy_headers import HeaderRules, IdentityHeaders, has_obs_fold

from .authority import FakeAuthority
from .rawhttp import CLFirstUpstream, exchange, request, run_proxy, status_of, upstream

K8S = IdentityHeaders(kubernetes=True, role_prefix="jot:role:")
RULES = HeaderRules.of(["X-Internal-*", "X-Debug"], ["my-proto/1"])


class Stack:
    def __init__(self, authority: FakeAuthority, up: CLFirstUpstream, ports: dict[str, int]):
        self.authority, self.up, self.ports = authority, up, ports

    def token(self, mode: str, **claims: object) -> str:
        return self.authority.token(aud="k8s" if mode == "k8s" else "web", **claims)

    def send(self, mode: str, raw: bytes) -> tuple[int, list]:
        """The proxy's status, and what reached the upstream meanwhile."""
        connections, count = self.up.connections, len(self.up.received)
        status = status_of(exchange(self.ports[mode], raw))
        time.sleep(0.05)  # Anything smuggled would be parsed right after the first request.
        assert self.up.connections - connections <= 1
        return status, self.up.received[count:]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    authority = FakeAuthority()
    authority.set_grants([("group:ops", "admin", "web"), ("group:ops", "admin", "k8s")])
    with (
        upstream() as up,
        run_proxy(authority, up.url) as generic,
        run_proxy(authority, up.url, rendering=K8S) as k8s,
        run_proxy(authority, up.url, rules=RULES) as configured,
    ):
        yield Stack(authority, up, {"generic": generic, "k8s": k8s, "configured": configured})


def bearer(stack: Stack, mode: str, **claims: object) -> tuple[str, str]:
    return ("Authorization", "Bearer " + stack.token(mode, **claims))


def test_a_good_request_reaches_the_upstream(stack):
    headers = [bearer(stack, "generic"), ("Content-Length", "3")]
    status, seen = stack.send("generic", request("/x", headers, b"abc"))
    assert status == 200
    assert [(r.method, r.target, r.body) for r in seen] == [("POST", "/x", b"abc")]
    assert seen[0].all("x-jot-user") == ["alice@example.com"]


# -- 1. framing ---------------------------------------------------------------------------

# Inside a chunked body: a request that an upstream reading Content-Length first takes for
# the next one on the proxy's connection.
SMUGGLED = (
    b"GET /admin HTTP/1.1\r\nHost: up\r\nX-Jot-User: admin\r\nImpersonate-User: admin\r\n"
    b"Impersonate-Group: system:masters\r\nContent-Length: 7\r\n\r\n"
)
assert 16 <= len(SMUGGLED) < 256  # Two hex digits: "xx\r\n" is exactly Content-Length 4.
CHUNKED = f"{len(SMUGGLED):x}\r\n".encode() + SMUGGLED + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize("mode", ["generic", "k8s"])
@pytest.mark.parametrize("order", ["cl-first", "te-first"])
def test_transfer_encoding_with_content_length_is_refused(stack, mode, order):
    framing = [("Content-Length", "4"), ("Transfer-Encoding", "chunked")]
    if order == "te-first":
        framing.reverse()
    status, seen = stack.send(mode, request("/", [bearer(stack, mode), *framing], CHUNKED))
    assert status == 400
    assert seen == []


def test_chunked_alone_is_forwarded_with_one_framing(stack):
    raw = request("/", [bearer(stack, "generic"), ("Transfer-Encoding", "chunked")], CHUNKED)
    status, seen = stack.send("generic", raw)
    assert status == 200
    assert [r.target for r in seen] == ["/"]
    assert seen[0].body == SMUGGLED  # Just a body.
    assert "content-length" not in seen[0].names()


@pytest.mark.parametrize(
    "headers",
    [
        [("Content-Length", "3"), ("Content-Length", "4")],
        [("Content-Length", "3, 4")],
        [("Transfer-Encoding", "gzip, chunked")],
        [("Transfer-Encoding", "identity")],
        [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
        [("X Jot User", "admin")],
        [("X-Jot-User ", "admin")],
        [("X-Note", "a\r\n X-Jot-User: admin")],  # obs-fold
        [("X-Note", "a\r\n\tImpersonate-User: admin")],  # obs-fold
    ],
    ids=["cl-cl", "cl-list", "te-gzip", "te-identity", "te-twice", "space-in-name",
         "space-before-colon", "obs-fold-space", "obs-fold-tab"],
)  # fmt: skip
@pytest.mark.parametrize("mode", ["generic", "k8s"])
def test_ambiguous_framing_is_refused_with_400(stack, headers, mode):
    body = b"abc" if headers[0][0] == "Content-Length" else b""
    status, seen = stack.send(mode, request("/", [bearer(stack, mode), *headers], body))
    assert status == 400
    assert seen == []


def test_obs_fold_is_found_in_the_head_only():
    assert has_obs_fold(b"GET / HTTP/1.1\r\nA: 1\r\n 2\r\n\r\n")
    assert has_obs_fold(b"GET / HTTP/1.1\nA: 1\n\t2\n\n")
    assert not has_obs_fold(b"GET / HTTP/1.1\r\nA: 1\r\n\r\nbody\r\n with a space")
    assert not has_obs_fold(b"GET / HTTP/1.1\r\nA: 1 2\r\n\r\n")


def test_a_pipelined_request_with_obs_fold_is_refused(stack):
    # The second head arrives with the first request: the check reads h11's leftover bytes.
    good = request("/one", [bearer(stack, "generic")])
    folded = request("/two", [bearer(stack, "generic"), ("X-Note", "a\r\n X-Jot-User: admin")])
    count = len(stack.up.received)
    answers = exchange(stack.ports["generic"], good + folded, until_close=True)
    time.sleep(0.05)
    assert answers.startswith(b"HTTP/1.1 200 ")
    assert answers.count(b"HTTP/1.1 400 ") == 1
    assert [r.target for r in stack.up.received[count:]] == ["/one"]


# -- 2, 3. identity headers, however spelled ----------------------------------------------

SPOOFED = [
    ("X_Jot_User", "root"), ("x-JOT-user", "root"), ("X_JOT_ROLES", "admin"),
    ("X-Jot_Groups", "ops"), ("Impersonate_User", "root"), ("IMPERSONATE-GROUP", "system:masters"),
    ("Impersonate_Uid", "0"), ("Impersonate-Extra_Scopes", "all"),
    ("X-Remote-User", "root"), ("X_Remote_Group", "system:masters"),
    ("X-Remote-Extra-Scopes", "all"), ("x_remote_extra_reason", "x"),
    ("Proxy", "http://evil.example:3128"),  # httpoxy: HTTP_PROXY in a CGI/WSGI upstream
]  # fmt: skip


@pytest.mark.parametrize("mode", ["generic", "k8s"])
def test_identity_headers_are_stripped_by_their_normalised_name(stack, mode):
    raw = request("/", [*SPOOFED, bearer(stack, mode), ("X_Custom", "kept")])
    status, seen = stack.send(mode, raw)
    assert status == 200
    (received,) = seen
    assert received.all("X_Custom") == ["kept"]  # Other underscores are not touched.
    normalised = [name.replace("_", "-") for name in received.names()]
    assert not [n for n in normalised if n.startswith(("x-remote-", "impersonate-extra"))]
    assert "proxy" not in [n.lower() for n in normalised]
    if mode == "generic":
        assert not [n for n in normalised if n.startswith("impersonate-")]
        assert received.all("x-jot-user") == ["alice@example.com"]
        assert received.all("x-jot-roles") == ["admin"]
        assert received.all("x-jot-groups") == ["ops"]
        assert normalised.count("x-jot-user") == 1
    else:
        assert not [n for n in normalised if n.startswith("x-jot-")]
        assert received.all("impersonate-user") == ["alice@example.com"]
        assert received.all("impersonate-group") == ["ops", "jot:role:admin"]
        assert normalised.count("impersonate-user") == 1
        assert "impersonate-uid" not in normalised


def test_operator_listed_headers_are_stripped(stack):
    extra = [("X-Internal-Token", "t"), ("X_Internal_Route", "r"), ("x-debug", "1"),
             ("X_Debug", "1"), ("X-Debugger", "kept")]  # fmt: skip
    status, seen = stack.send("configured", request("/", [bearer(stack, "generic"), *extra]))
    assert status == 200
    assert [n for n in seen[0].names() if "internal" in n or "debug" in n] == ["x-debugger"]


def test_header_rules_refuse_what_is_not_a_name():
    for bad in ("X Bad", "", "*", "X-Bad:", "X-Ünï"):
        with pytest.raises(ValueError, match="not a header name"):
            HeaderRules.of([bad])
    for bad in ("h2c, websocket", "a b", "/1", ""):
        with pytest.raises(ValueError, match="not an upgrade protocol"):
            HeaderRules.of([], [bad])


# -- 4. upgrades ---------------------------------------------------------------------------


def upgrade(stack: Stack, mode: str, protocol: str, port: str | None = None) -> tuple[int, list]:
    headers = [bearer(stack, mode), ("Connection", "Upgrade"), ("Upgrade", protocol)]
    return stack.send(port or mode, request("/", headers))


@pytest.mark.parametrize("protocol", ["h2c", "websocket, h2c", "echo", "my-proto/1"])
@pytest.mark.parametrize("mode", ["generic", "k8s"])
def test_upgrades_are_refused_unless_allowed(stack, mode, protocol):
    status, seen = upgrade(stack, mode, protocol)
    assert status == 400
    assert seen == []


@pytest.mark.parametrize("protocol", ["websocket", "WebSocket", "SPDY/3.1", "spdy/3.1"])
def test_websocket_and_spdy_pass(stack, protocol):
    status, seen = upgrade(stack, "k8s", protocol)
    assert status == 200  # This upstream declines the upgrade: its answer is relayed.
    assert seen[0].all("upgrade") == [protocol]


def test_configured_upgrades_pass(stack):
    status, seen = upgrade(stack, "generic", "my-proto/1", port="configured")
    assert status == 200
    assert seen[0].all("upgrade") == ["my-proto/1"]
    assert upgrade(stack, "generic", "h2c", port="configured")[0] == 400


# -- 5. two credentials ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["generic", "k8s"])
def test_two_authorization_credentials_are_refused(stack, mode):
    good, other = bearer(stack, mode), bearer(stack, mode, name="bob@example.com")
    for headers in ([good, other], [other, good], [("Authorization", f"{good[1]}, {other[1]}")]):
        status, seen = stack.send(mode, request("/", headers))
        assert status == 400
        assert seen == []
    answer = exchange(stack.ports[mode], request("/", [good, good]))
    assert b'error="invalid_request"' in answer


# -- 6. names Kubernetes reserves ------------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [{"name": "system:kube-controller-manager"}, {"name": "system:node:n1"}, {"sub": "system:x"}],
)
def test_reserved_names_never_reach_kubernetes(stack, claims):
    status, seen = stack.send("k8s", request("/", [bearer(stack, "k8s", **claims)]))
    assert status == 403
    assert seen == []
    # The generic proxy's upstream is no Kubernetes: the name is just a name there.
    status, seen = stack.send("generic", request("/", [bearer(stack, "generic", **claims)]))
    assert status == 200
