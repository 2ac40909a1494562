"""Running the authority for real: what an operator does to a running `jot server`, with real
processes (`jot server` and the CLI) on a temporary data directory."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from .test_authority_support import cli, run_server

pytestmark = pytest.mark.e2e


def test_rotate_root_key_refuses_while_the_server_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    new_key = tmp_path / "new.key"
    new_key.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=") + "\n")
    with run_server(data) as server:
        refused = cli(
            tmp_path, "server", "--data-dir", str(data), "rotate-root-key", str(new_key),
            check=False,
        )  # fmt: skip
        assert refused.returncode == 1
        assert refused.stderr.splitlines() == [
            "Error: a jot server is running on this database: stop every server first"
        ]
        assert server.process.poll() is None
    done = cli(tmp_path, "server", "--data-dir", str(data), "rotate-root-key", str(new_key))
    assert done.stdout.startswith("re-encrypted ")


def test_json_logs_with_an_access_log_and_no_secret(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with run_server(tmp_path / "data", "--log-format", "json", "--access-log") as server:
        key = server.admin_key()
        cli(home, "login", server.url, "--key-stdin", stdin=key + "\n")
        cli(home, "destinations", "add", "web")
        cli(home, "grants", "add", "user:admin", "viewer", "web")
        cli(home, "token", "--for", "web", "--refresh")
        cli(home, "token", "--for", "web", "--refresh")  # The cached fast path, this time.
        me = json.loads(cli(home, "whoami", "--json").stdout)
    text = server.log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # Every line is one object.
    assert key not in text
    assert "Bearer" not in text
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert "config:" in lines[1]["message"]
    assert lines[2]["message"] == f"database: SQLite {tmp_path / 'data' / 'jot.db'}"
    tokens = [line for line in lines if line.get("route") == "/api/tokens"]
    assert len(tokens) == 2
    for line in tokens:
        assert line["logger"] == "jot.access"
        assert line["method"] == "POST"
        assert line["status"] == 201
        assert line["identity"] == me["id"]
        assert line["duration_ms"] > 0
        assert len(line["request_id"]) == 16


def _connector(home: Path, url: str, *args: str) -> list[str]:
    done = cli(
        home, "connector", "forward-auth", "--issuer", url, "--name", "web",
        "--listen", "127.0.0.1:0", *args, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stderr.splitlines()


def test_a_connector_checks_the_authority_before_it_listens(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with run_server(tmp_path / "data") as server:
        cli(home, "login", server.url, "--key-stdin", stdin=server.admin_key() + "\n")
        cli(home, "users", "add", "web-connector", "--machine")
        key_file = tmp_path / "connector.key"
        cli(home, "access-keys", "add", "web-connector", "--out", str(key_file))
        with_key = ["--access-key-file", str(key_file)]
        assert _connector(home, server.url) == [
            "Error: no access key to read the grants with: give --access-key-file or set "
            "JOT_ACCESS_KEY (or --grants-file)"
        ]
        assert _connector(home, server.url, *with_key) == [
            "Error: web-connector may not read the grants of 'web': give it the connector "
            "grant (jot grants add user:web-connector connector jot.web)"
        ]
        cli(home, "destinations", "add", "db")
        cli(home, "grants", "add", "user:web-connector", "connector", "jot.db")
        assert _connector(home, server.url, *with_key) == [
            "Error: web-connector may not read the grants of 'web': give it the connector "
            "grant (jot grants add user:web-connector connector jot.web)"
        ]
        admin_key = tmp_path / "admin.key"
        admin_key.write_text(server.admin_key() + "\n")
        assert _connector(home, server.url, "--access-key-file", str(admin_key)) == [
            f"Error: no destination named 'web' at {server.url} (jot destinations add web)"
        ]
        bad = tmp_path / "bad.key"
        bad.write_text("jot_ak_" + "a" * 12 + "_" + "b" * 32 + "\n")
        assert _connector(home, server.url, "--access-key-file", str(bad)) == [
            f"Error: {server.url} refused the access key: a valid access key is required"
        ]
    gone = _connector(home, server.url, *with_key)
    assert len(gone) == 1
    assert gone[0].startswith(f"Error: cannot reach {server.url}")


def test_a_refused_grants_fetch_says_the_authoritys_reason() -> None:
    import httpx

    from jot.destination.errors import UnavailableError
    from jot.destination.grants_client import GrantsPoll

    poll = GrantsPoll("https://auth.example", "web", "key")
    body = b'{"error": "forbidden", "message": "this needs one of the roles admin, view"}'
    with pytest.raises(UnavailableError, match=r"^grants: HTTP 403: this needs one of the roles"):
        poll._handle(httpx.Response(403, content=body))
