"""A real `jot server --workers 2`: no server banner, security headers, and one set of metrics
for all workers (issue 11 items 12-13, issue 15 item 15)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from .test_authority_support import run_server

pytestmark = pytest.mark.e2e

HEALTHZ = re.compile(
    r'^jot_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$', re.M
)


def test_workers_answer_with_one_set_of_metrics_and_no_banner(tmp_path: Path) -> None:
    with run_server(tmp_path / "data", "--workers", "2") as server:
        admin = {"Authorization": f"Bearer {server.admin_key()}"}
        for _ in range(40):  # A new connection each: both workers take some.
            answer = httpx.get(f"{server.url}/healthz", timeout=5)
            assert answer.status_code == 200
            assert "server" not in answer.headers
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert httpx.get(f"{server.url}/metrics", timeout=5).status_code == 401
        counts = set()
        for _ in range(6):
            text = httpx.get(f"{server.url}/metrics", headers=admin, timeout=5).text
            found = HEALTHZ.search(text)
            assert found is not None, text[:2000]
            counts.add(float(found.group(1)))
        # Whichever worker answers the scrape, it counts the requests of both.
        assert counts == {40.0}
