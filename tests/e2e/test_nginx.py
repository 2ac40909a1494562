"""Real nginx (Debian's, installed by scripts/install-nginx) with ``auth_request`` to a real
``jot connector forward-auth`` process, in front of a small recording upstream, using the
configuration shipped in examples/nginx/jot.conf."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.destination.authority import ACCESS_KEY, FakeAuthority
from tests.destination.servers import free_port, jot_process, serve_in_thread, stop, wait_for_port

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).parents[2] / "examples" / "nginx" / "jot.conf"
NGINX_MAIN = """
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/jot.conf;
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if found is None:
        pytest.fail("nginx is not installed: run scripts/install-nginx (make test does)")
    return found


@contextlib.contextmanager
def run_nginx(prefix: Path, auth_url: str, app_url: str) -> Iterator[str]:
    (prefix / "tmp").mkdir(parents=True)
    for attempt in range(5):
        port = free_port()
        conf = EXAMPLE.read_text()
        conf = conf.replace("127.0.0.1:8081", auth_url.removeprefix("http://"))
        conf = conf.replace("127.0.0.1:8080", app_url.removeprefix("http://"))
        conf = conf.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        (prefix / "jot.conf").write_text(conf)
        user = "user root;" if os.geteuid() == 0 else ""
        (prefix / "nginx.conf").write_text(NGINX_MAIN.format(prefix=prefix, user=user))
        process = subprocess.Popen(
            [nginx_binary(), "-p", str(prefix), "-e", str(prefix / "error.log"),
             "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_port(port, timeout=5)
        except RuntimeError:
            stop(process)
            err = (prefix / "error.log").read_bytes()
            if b"Address already in use" in err and attempt < 4:
                continue  # Another test took the port between our probe and nginx's bind.
            raise RuntimeError(f"nginx did not start: {err.decode()[-1000:]}") from None
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)
        return


def recording_upstream(seen: list[dict[str, str]]) -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        seen.append(
            {k.lower(): v for k, v in request.headers.items()} | {":path": request.url.path}
        )
        return JSONResponse({"path": request.url.path})

    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FakeAuthority, list]]:
    tmp = tmp_path_factory.mktemp("nginx")
    authority = FakeAuthority()
    authority.set_grants([("group:ops", "admin", "web"), ("user:bob@example.com", "viewer", "web")])
    seen: list[dict[str, str]] = []
    key_file = tmp / "access-key"
    key_file.write_text(ACCESS_KEY + "\n")
    with serve_in_thread(authority.app()) as issuer:
        authority.issuer = issuer
        args = ["connector", "forward-auth", "--issuer", issuer, "--name", "web",
                "--access-key-file", str(key_file), "--listen", "127.0.0.1:0"]  # fmt: skip
        with (
            jot_process(*args) as auth_url,
            serve_in_thread(recording_upstream(seen)) as app_url,
            run_nginx(tmp / "prefix", auth_url, app_url) as nginx_url,
        ):
            yield nginx_url, authority, seen


def get(url: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(url + "/hello", headers=headers, timeout=10)


def test_good_token_upstream_sees_identity(stack):
    url, authority, seen = stack
    response = get(url, authority.token())
    assert response.status_code == 200, response.text
    assert response.json() == {"path": "/hello"}
    headers = seen[-1]
    assert headers["x-jot-user"] == "alice@example.com"
    assert headers["x-jot-subject"] == "u_alice"
    assert headers["x-jot-groups"] == "ops"
    assert headers["x-jot-roles"] == "admin"
    assert "authorization" not in headers


def test_no_token(stack):
    url, _, _ = stack
    response = get(url)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="web"'


def test_expired_token(stack):
    url, authority, _ = stack
    now = int(time.time())
    response = get(url, authority.token(iat=now - 900, nbf=now - 900, exp=now - 600))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_token_for_another_audience(stack):
    url, authority, _ = stack
    assert get(url, authority.token(aud="db")).status_code == 401


def test_token_without_grant(stack):
    url, authority, _ = stack
    assert get(url, authority.token(name="carol@example.com", groups=["dev"])).status_code == 403


def test_client_sent_identity_headers_are_replaced(stack):
    url, authority, seen = stack
    count = len(seen)
    forged = {"X-Jot-User": "root", "X-Jot-Roles": "admin", "X-Jot-Groups": "ops"}
    bob = authority.token(name="bob@example.com", groups=[])
    response = get(url, bob, **forged)
    assert response.status_code == 200
    headers = seen[-1]
    assert len(seen) == count + 1
    assert headers["x-jot-user"] == "bob@example.com"
    assert headers["x-jot-roles"] == "viewer"
    assert "x-jot-groups" not in headers  # Bob has no groups: the forged value is gone too.
    # Without a token, forged headers get nowhere.
    assert get(url, None, **forged).status_code == 401
    assert len(seen) == count + 1


def raw(url: str, data: bytes) -> bytes:
    """Send bytes as they are to nginx; its answer (nginx closes after an error)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and b"connection: close" not in answer.lower():
                break
        return answer


def test_a_deeply_nested_token_header_is_401_not_500(stack):
    # Forward auth answered 500 for it, and nginx passed the 500 on.
    url, _, seen = stack
    count = len(seen)
    nested = base64.urlsafe_b64encode(b"[" * 1500).rstrip(b"=").decode()
    response = get(url, f"{nested}.e30.c2ln")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert len(seen) == count


def test_two_authorization_headers_are_refused(stack):
    url, authority, seen = stack
    count = len(seen)
    alice, bob = authority.token(), authority.token(name="bob@example.com", groups=[])
    head = (
        f"GET /hello HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n"
        f"Authorization: Bearer {bob}\r\nConnection: close\r\n\r\n"
    )
    assert raw(url, head.encode()).startswith(b"HTTP/1.1 400 ")
    joined = httpx.get(
        url + "/hello", headers={"Authorization": f"Bearer {alice}, Bearer {bob}"}, timeout=10
    )
    assert joined.status_code == 400  # Forward auth's 400, passed on (examples/nginx/jot.conf).
    assert len(seen) == count


def test_identity_headers_in_other_spellings_do_not_reach_the_app(stack):
    url, authority, seen = stack
    spoofed = {"X_Jot_User": "root", "x-jot-ROLES": "admin", "X-Jot_Groups": "ops",
               "X-Remote-User": "root", "X_Remote_Group": "system:masters",
               "Proxy": "http://evil.example:3128"}  # fmt: skip
    bob = authority.token(name="bob@example.com", groups=[])
    assert get(url, bob, **spoofed).status_code == 200
    names = [name.replace("_", "-") for name in seen[-1]]
    assert seen[-1]["x-jot-user"] == "bob@example.com"
    assert seen[-1]["x-jot-roles"] == "viewer"
    assert names.count("x-jot-user") == names.count("x-jot-roles") == 1
    assert "x-jot-groups" not in names
    assert "x-remote-user" not in names
    assert "x-remote-group" not in names
    assert "proxy" not in names


def test_a_smuggling_attempt_through_nginx_reaches_nothing(stack):
    url, authority, seen = stack
    count = len(seen)
    smuggled = b"GET /admin HTTP/1.1\r\nHost: x\r\nX-Jot-User: admin\r\nContent-Length: 7\r\n\r\n"
    chunked = f"{len(smuggled):x}\r\n".encode() + smuggled + b"\r\n0\r\n\r\n"
    head = (
        f"POST /hello HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {authority.token()}\r\n"
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    answer = raw(url, head.encode() + chunked)
    assert answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 200 "))
    time.sleep(0.1)
    assert [headers[":path"] for headers in seen[count:]] in ([], ["/hello"])
    assert all(headers["x-jot-user"] == "alice@example.com" for headers in seen[count:])


def _token_at_the_limit(authority: FakeAuthority) -> tuple[str, list[str]]:
    """A token as large as destinations accept (within a few bytes of MAX_TOKEN_BYTES),
    made large by its groups: what the authority may issue at most."""
    from jot.api.claims import MAX_TOKEN_BYTES

    groups = ["ops"]
    while len(authority.token(groups=[*groups, "g" * 200])) <= MAX_TOKEN_BYTES:
        groups.append(f"team-{len(groups):03d}-" + "x" * 192)
    low, high = 1, 200  # The last group's length, found by bisection.
    while low < high:
        middle = (low + high + 1) // 2
        if len(authority.token(groups=[*groups, "y" * middle])) <= MAX_TOKEN_BYTES:
            low = middle
        else:
            high = middle - 1
    groups.append("y" * low)
    token = authority.token(groups=groups)
    assert MAX_TOKEN_BYTES - 8 <= len(token) <= MAX_TOKEN_BYTES
    return token, groups


def test_a_token_at_the_documented_limit_gets_through(stack):
    """The shipped example's header buffers hold the largest token the authority issues, and
    the identity headers made from it (nginx's defaults refused such a token with 400, and
    forward auth's answer with a 500 from about 160 groups)."""
    url, authority, seen = stack
    token, groups = _token_at_the_limit(authority)
    response = get(url, token)
    assert response.status_code == 200, response.text
    assert seen[-1]["x-jot-groups"].split(",") == groups
    assert seen[-1]["x-jot-roles"] == "admin"
