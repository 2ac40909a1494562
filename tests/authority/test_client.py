"""The Python client: the async twin in-process, the sync twin's error mapping."""

from __future__ import annotations

import httpx
import pytest

from jot.authority.app import Started, create_app
from jot.client import AsyncClient, Client, ClientError, ConnectError, ops

from .conftest import ISSUER


@pytest.mark.anyio
async def test_async_client_does_what_the_cli_does(started: Started, admin_key: str) -> None:
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    async with AsyncClient(ISSUER, admin_key, transport=transport) as admin:
        await admin.call(ops.user_create("bob@example.com", password="hunter2hunter2"))
        await admin.call(ops.destination_create("web", lifetime=60))
        await admin.call(ops.grant_create("user:bob@example.com", "reader", "web"))
        grants, etag = await admin.grants("web")
        assert grants is not None
        assert [g.role for g in grants.items] == ["reader"]
        assert await admin.grants("web", etag=etag) == (None, etag)
    async with AsyncClient(ISSUER, transport=transport) as bob:
        login = await bob.login("bob@example.com", "hunter2hunter2")
        assert bob.access_key == login.access_key
        assert (await bob.whoami()).name == "bob@example.com"
        token = await bob.token("web")
        assert (token.expires.timestamp() - started.authority.clock()) == pytest.approx(60, abs=1)
        with pytest.raises(ClientError) as caught:
            await bob.token("nowhere")
        assert (caught.value.status, caught.value.error) == (404, "not_found")
        await bob.logout()
        with pytest.raises(ClientError) as caught:
            await bob.whoami()
        assert caught.value.status == 401


def test_sync_client_maps_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/whoami":
            assert request.headers["authorization"] == "Bearer k"
            return httpx.Response(403, json={"error": "forbidden", "message": "no"})
        return httpx.Response(502, text="<html>bad gateway</html>")

    with Client("auth.example", "k", transport=httpx.MockTransport(handler)) as client:
        assert client.server == "https://auth.example"
        with pytest.raises(ClientError, match="no"):
            client.whoami()
        with pytest.raises(ClientError, match="HTTP 502"):
            client.call(ops.users_list())

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with Client("localhost:1", transport=httpx.MockTransport(refuse)) as client:
        assert client.server == "http://localhost:1"
        with pytest.raises(ConnectError, match="cannot reach http://localhost:1"):
            client.whoami()
