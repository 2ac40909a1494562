from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from jot.destination.identity import Identity
from jot.destination.proxy_headers import (
    IdentityHeaders,
    connection_tokens,
    request_headers,
    response_headers,
    upgrade_of,
)

from .k8s import K8sStack, k8s_stack

ALICE = Identity(
    subject="u_alice", name="alice@example.com", groups=("ops", "dev"),
    roles=frozenset({"admin"}), token_id="j", expires=datetime.now(UTC),
)  # fmt: skip
K8S = IdentityHeaders(kubernetes=True, group_prefix="jot:", role_prefix="jot:role:")


def names(headers):
    return [name for name, _ in headers]


def test_request_headers_strip_then_add():
    client = [
        (b"Host", b"proxy"), (b"Authorization", b"Bearer client"),
        (b"Impersonate-User", b"root"), (b"impersonate-group", b"system:masters"),
        (b"Impersonate-Extra-scopes", b"x"), (b"Impersonate-Uid", b"0"),
        (b"X-Jot-User", b"root"), (b"Connection", b"keep-alive, Impersonate-User, X-Custom"),
        (b"X-Custom", b"drop me"), (b"Keep-Alive", b"timeout=5"), (b"TE", b"trailers"),
        (b"Accept", b"application/json"), (b"Content-Length", b"3"), (b"Expect", b"100-continue"),
    ]  # fmt: skip
    out = request_headers(client, K8S.render(ALICE), host=b"api:6443", credential="sa")
    assert out == [
        (b"host", b"api:6443"),
        (b"accept", b"application/json"),
        (b"content-length", b"3"),
        (b"authorization", b"Bearer sa"),
        (b"impersonate-user", b"alice@example.com"),
        (b"impersonate-group", b"jot:ops"),
        (b"impersonate-group", b"jot:dev"),
        (b"impersonate-group", b"jot:role:admin"),
    ]


def test_connection_cannot_drop_framing_or_our_headers():
    client = [(b"Connection", b"content-length, host, authorization"), (b"Content-Length", b"2")]
    out = request_headers(client, IdentityHeaders().render(ALICE), host=b"up", credential=None)
    assert (b"content-length", b"2") in out
    assert dict(out)[b"x-jot-user"] == b"alice@example.com"
    assert b"authorization" not in names(out)


def test_chunked_and_upgrade_are_redone():
    client = [
        (b"Transfer-Encoding", b"chunked"),
        (b"Connection", b"Upgrade"),
        (b"Upgrade", b"SPDY/3.1"),
    ]
    out = request_headers(client, K8S.render(ALICE), host=b"up", credential=None)
    assert (b"transfer-encoding", b"chunked") in out
    assert out[-6:-4] == [(b"connection", b"upgrade"), (b"upgrade", b"SPDY/3.1")]
    assert upgrade_of([(b"Upgrade", b"websocket")]) is None  # Not named in Connection.
    assert connection_tokens([(b"connection", b"a, B"), (b"Connection", b"c")]) == {
        b"a",
        b"b",
        b"c",
    }


def test_response_headers():
    upstream = [
        (b"Content-Type", b"x"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Connection", b"close, X-A"),
        (b"X-A", b"1"),
    ]
    assert response_headers(upstream) == [(b"content-type", b"x")]
    switching = [(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")]
    assert response_headers(switching, switching=True) == [
        (b"connection", b"upgrade"),
        (b"upgrade", b"websocket"),
    ]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[K8sStack]:
    with k8s_stack(tmp_path_factory.mktemp("proxy")) as s:
        yield s


def client(stack: K8sStack) -> httpx.Client:
    return httpx.Client(
        base_url=stack.proxy_url,
        verify=ssl.create_default_context(cafile=stack.proxy_ca),
        timeout=10,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_proxy_impersonates(stack):
    with client(stack) as c:
        token = stack.authority.token(aud="k8s")
        response = c.get(
            "/api/v1/namespaces",
            headers={
                **bearer(token),
                "Impersonate-User": "root",
                "Impersonate-Group": "system:masters",
                "Connection": "Impersonate-User",
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["kind"] == "NamespaceList"
    seen = stack.api.seen[-1]
    assert seen.all("impersonate-user") == ["alice@example.com"]
    assert seen.all("impersonate-group") == ["ops", "jot:role:admin"]
    assert seen.all("authorization") == [f"Bearer {stack.api.token}"]
    assert not [
        k
        for k, _ in seen.headers
        if k.startswith("impersonate-") and k not in ("impersonate-user", "impersonate-group")
    ]


def test_proxy_refuses(stack):
    with client(stack) as c:
        count = len(stack.api.seen)
        assert c.get("/api").status_code == 401
        assert c.get("/api", headers=bearer(stack.authority.token(aud="web"))).status_code == 401
        nobody = stack.authority.token(
            aud="k8s", name="carol@example.com", groups=["system:masters"]
        )
        assert c.get("/api", headers=bearer(nobody)).status_code == 403
        assert len(stack.api.seen) == count


def test_proxy_streams_and_keeps_alive(stack):
    with client(stack) as c:
        token = bearer(stack.authority.token(aud="k8s"))
        with c.stream("GET", "/stream", headers=token) as response:
            lines = list(response.iter_lines())
        assert lines == ["event 0", "event 1", "event 2"]
        body = b"x" * 200_000
        assert c.post("/api/v1/namespaces", headers=token, content=body).status_code == 200
        assert c.get("/version", headers=token).json()["gitVersion"] == "v1.30.0"


def test_proxy_rereads_rotated_upstream_token(stack):
    with client(stack) as c:
        token = bearer(stack.authority.token(aud="k8s"))
        stack.api.token = "sa-token-2"
        assert c.get("/api", headers=token).status_code == 401  # The upstream refuses the old one.
        stack.token_file.write_text("sa-token-2\n")
        os.utime(stack.token_file, ns=(time.time_ns() + 10**9,) * 2)
        assert c.get("/api", headers=token).status_code == 200


def test_proxy_passes_upgrades(stack):
    token = stack.authority.token(aud="k8s")
    host, port = stack.proxy_url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=stack.proxy_ca)
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as sock,
    ):
        head = [
            "GET /api/v1/namespaces/default/pods/p/exec HTTP/1.1",
            "Host: x",
            f"Authorization: Bearer {token}",
            "Connection: Upgrade",
            "Upgrade: SPDY/3.1",
            "Impersonate-Group: system:masters",
        ]
        sock.sendall(("\r\n".join(head) + "\r\n\r\nhello").encode())
        received = b""
        deadline = time.monotonic() + 10
        while b"HELLO" not in received and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        assert received.startswith(b"HTTP/1.1 101 ")
        assert received.endswith(b"HELLO")
        sock.sendall(b"more")
        assert sock.recv(100) == b"MORE"
    seen = stack.api.seen[-1]
    assert seen.all("impersonate-group") == ["ops", "jot:role:admin"]


def test_proxy_refuses_absolute_form_targets(stack):
    token = stack.authority.token(aud="k8s")
    host, port = stack.proxy_url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=stack.proxy_ca)
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as sock,
    ):
        head = f"GET http://evil.example/api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}"
        sock.sendall((head + "\r\n\r\n").encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")
