"""``jot connector proxy`` without ``--kubernetes``: X-Jot-* identity headers to a plain HTTP
upstream; and Kubernetes mode authenticating to the upstream with a client certificate."""

from __future__ import annotations

import ssl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jot.destination.tls import write_self_signed

from .apiserver import FakeAPIServer, run_api_server
from .authority import ACCESS_KEY, FakeAuthority
from .servers import jot_process, serve_in_thread


def test_generic_proxy_sends_identity_headers(tmp_path):
    authority = FakeAuthority()
    authority.set_grants([("group:ops", "admin", "web")])
    seen: list[dict[str, str]] = []

    async def echo(request: Request) -> JSONResponse:
        seen.append({k.lower(): v for k, v in request.headers.items()})
        return JSONResponse({"path": request.url.path, "query": request.url.query})

    upstream = Starlette(routes=[Route("/{path:path}", echo)])
    cert, key = write_self_signed(["127.0.0.1"], str(tmp_path))
    (tmp_path / "ak").write_text(ACCESS_KEY)
    with serve_in_thread(authority.app()) as issuer, serve_in_thread(upstream) as app_url:
        authority.issuer = issuer
        args = [
            "connector", "proxy", "--issuer", issuer, "--name", "web", "--listen", "127.0.0.1:0",
            "--access-key-file", str(tmp_path / "ak"), "--upstream", app_url + "/base",
            "--tls-cert", str(cert), "--tls-key", str(key),
            "--strip-header", "X-Internal-*", "--strip-header", "X-Debug",
            "--allow-upgrade", "my-proto/1",
        ]  # fmt: skip
        with jot_process(*args) as url:
            verify = ssl.create_default_context(cafile=cert)
            headers = {
                "Authorization": "Bearer " + authority.token(),
                "X-Jot-User": "root",
                "X_Jot_User": "root",
                "Impersonate-User": "root",
                "X-Remote-User": "root",
                "X_Internal_Secret": "s",
                "X-Debug": "1",
            }
            response = httpx.get(url + "/x?y=1", headers=headers, verify=verify)
            upgrade = {"Connection": "Upgrade", "Upgrade": "h2c"}
            h2c = httpx.get(url + "/x", headers={**headers, **upgrade}, verify=verify)
    assert response.json() == {"path": "/base/x", "query": "y=1"}
    assert h2c.status_code == 400
    assert seen[-1]["x-jot-user"] == "alice@example.com"
    assert seen[-1]["x-jot-roles"] == "admin"
    assert [name for name in seen[-1] if name.replace("_", "-").startswith("x-jot-user")] == [
        "x-jot-user"
    ]
    for name in ("impersonate-user", "x-remote-user", "x_internal_secret", "x-debug"):
        assert name not in seen[-1]
    assert "authorization" not in seen[-1]


def test_kubernetes_proxy_with_upstream_client_certificate(tmp_path):
    authority = FakeAuthority()
    authority.set_grants([("group:ops", "admin", "k8s")])
    for name in ("api", "client", "proxy"):
        (tmp_path / name).mkdir()
    api_cert, api_key = write_self_signed(["127.0.0.1"], str(tmp_path / "api"))
    client_cert, client_key = write_self_signed(["jot-proxy"], str(tmp_path / "client"))
    proxy_cert, proxy_key = write_self_signed(["127.0.0.1"], str(tmp_path / "proxy"))
    (tmp_path / "ak").write_text(ACCESS_KEY)
    api = FakeAPIServer(token=None)
    with (
        serve_in_thread(authority.app()) as issuer,
        run_api_server(api, str(api_cert), str(api_key), client_ca=str(client_cert)) as api_url,
    ):
        authority.issuer = issuer
        args = [
            "connector", "proxy", "--kubernetes", "--issuer", issuer, "--name", "k8s",
            "--listen", "127.0.0.1:0", "--access-key-file", str(tmp_path / "ak"),
            "--upstream", api_url,
            "--upstream-ca", str(api_cert), "--upstream-client-cert", str(client_cert),
            "--upstream-client-key", str(client_key),
            "--tls-cert", str(proxy_cert), "--tls-key", str(proxy_key),
        ]  # fmt: skip
        with jot_process(*args) as url:
            verify = ssl.create_default_context(cafile=proxy_cert)
            token = authority.token(aud="k8s")
            response = httpx.get(
                url + "/api", headers={"Authorization": "Bearer " + token}, verify=verify
            )
    assert response.status_code == 200, response.text
    assert api.seen[-1].all("impersonate-user") == ["alice@example.com"]
    assert api.seen[-1].all("authorization") == []
    assert api.seen[-1].client_cn == "jot-proxy"
