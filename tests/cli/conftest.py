"""The admin commands' fixture: the real CLI and client against an in-process authority."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import jot.cli.session as session_cli
from jot.authority.app import create_app, open_authority
from jot.authority.settings import Settings
from jot.cli import _credentials as creds
from jot.cli import _remote
from jot.cli.main import cli as jot_cli
from jot.client import Client

SERVER = "http://authority.test"


class SyncASGI(httpx.BaseTransport):
    """httpx's ASGI transport is async only; the CLI's client is sync."""

    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._transport.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        request.read()
        return asyncio.run(send())


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    started = open_authority(Settings(data_dir=tmp_path / "data", issuer=SERVER))
    assert started.bootstrap_key is not None
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("JOT_ACCESS_KEY", raising=False)
    creds.remember(SERVER, {"access_key": started.bootstrap_key, "name": "admin"})
    transport = SyncASGI(create_app(authority=started.authority))
    monkeypatch.setattr(
        _remote, "Client", lambda server, key: Client(server, key, transport=transport)
    )
    monkeypatch.setattr(
        session_cli, "_client", lambda server, key=None: Client(server, key, transport=transport)
    )

    def run(*args: str, code: int = 0, input: str | None = None) -> str:
        result = CliRunner().invoke(jot_cli, list(args), input=input)
        assert result.exit_code == code, result.output
        return result.output

    run.client = lambda key=None: Client(SERVER, key, transport=transport)  # type: ignore[attr-defined]
    run.transport = transport  # type: ignore[attr-defined]
    run.admin_key = started.bootstrap_key  # type: ignore[attr-defined]
    yield run
    started.authority.close()
