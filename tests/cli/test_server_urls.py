"""Authority URLs: typed as for `jot login` everywhere, and an answer that is not jot's says
so."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from jot.cli import _credentials as creds
from jot.client import Client, ClientError

KEY = "jot_ak_" + "a" * 12 + "_" + "b" * 32


def test_server_without_a_scheme_is_the_same_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("JOT_ACCESS_KEY", raising=False)
    monkeypatch.delenv("JOT_SERVER", raising=False)
    creds.remember("http://127.0.0.1:8080", {"access_key": KEY, "name": "admin"})
    creds.remember("https://auth.example", {"access_key": "other", "name": "admin"})
    assert creds.resolve("127.0.0.1:8080") == ("http://127.0.0.1:8080", KEY)
    assert creds.resolve("http://127.0.0.1:8080/") == ("http://127.0.0.1:8080", KEY)
    assert creds.resolve("auth.example") == ("https://auth.example", "other")
    monkeypatch.setenv("JOT_SERVER", "127.0.0.1:8080")
    monkeypatch.setenv("JOT_ACCESS_KEY", KEY)
    assert creds.resolve(None) == ("http://127.0.0.1:8080", KEY)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, b"<html>nginx</html>", "HTTP 404 Not Found for /api/whoami"),
        (200, b"<html>welcome</html>", "an unexpected HTTP 200 answer for /api/whoami"),
        (200, b'{"hello": "world"}', "an unexpected HTTP 200 answer for /api/whoami"),
    ],
)
def test_an_answer_that_is_not_jots_says_so(status: int, body: bytes, message: str) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    with (
        Client("http://web.example", KEY, transport=transport) as client,
        pytest.raises(ClientError) as caught,
    ):
        client.whoami()
    assert caught.value.message == f"http://web.example is not a jot authority ({message})"


def test_a_proxy_error_is_not_called_a_stranger() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, content=b"bad gateway"))
    with (
        Client("http://auth.example", KEY, transport=transport) as client,
        pytest.raises(ClientError, match=r"^HTTP 502 Bad Gateway$"),
    ):
        client.whoami()
