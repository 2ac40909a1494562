"""Running the authority for real: what an operator does to a running `jot server`, with real
processes (`jot server` and the CLI) on a temporary data directory."""

from __future__ import annotations

import base64
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
