"""The console's lists at 50,000 rows (issue 17): every list pages on the server by key, so
the first page and one deep in answer as fast as on an empty database."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from jot.authority.app import Started, create_app
from jot.authority.credentials import hash_secret
from jot.authority.models import AccessKey, AuditEvent, Destination, Grant, Group, Identity

pytestmark = pytest.mark.anyio

ROWS = 50_000
#: Generous for a loaded two-core machine; an unpaged list of 50,000 rows takes far longer.
BUDGET = 3.0


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jot.db'}"


def _seed(started: Started) -> None:
    now = datetime.now(UTC)
    ids = [f"{i:032x}" for i in range(ROWS)]
    with started.authority.db.transaction(write=True) as db:
        conn = db.connection()
        conn.execute(
            insert(Identity),
            [
                {"id": i, "name": f"u{n:05}", "name_key": f"u{n:05}", "kind": "machine",
                 "password_hash": None, "created": now, "updated": now}
                for n, i in enumerate(ids)
            ],
        )  # fmt: skip
        conn.execute(
            insert(Group),
            [{"id": i, "name": f"g{n:05}", "name_key": f"g{n:05}", "created": now}
             for n, i in enumerate(ids)],
        )  # fmt: skip
        conn.execute(
            insert(Destination),
            [{"id": i, "name": f"d{n:05}", "kind": "http", "lifetime": 300,
              "group_narrowing": "all", "created": now, "updated": now}
             for n, i in enumerate(ids)],
        )  # fmt: skip
        conn.execute(
            insert(Grant),
            [{"id": i, "identity_id": i, "group_id": None, "role": "viewer",
              "resource": f"d{n:05}", "destination_id": i, "created": now, "expires": None}
             for n, i in enumerate(ids)],
        )  # fmt: skip
        conn.execute(
            insert(AccessKey),
            [{"id": f"k{n:011}", "identity_id": i, "name": "key", "secret_hash": hash_secret("x"),
              "created": now, "expires": None, "inactivity_timeout": None, "last_used": now,
              "revoked": None, "parent_id": None, "origin_id": None}
             for n, i in enumerate(ids)],
        )  # fmt: skip
        conn.execute(
            insert(AuditEvent),
            [{"time": now, "kind": "seed.row", "actor": f"u{n:05}", "target": None,
              "client": None, "detail": "{}"} for n in range(ROWS)],
        )  # fmt: skip


async def test_every_list_stays_fast_at_50000_rows(started: Started, admin_key: str) -> None:
    _seed(started)
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    async with httpx.AsyncClient(transport=transport, base_url="http://authority.test") as http:
        page = await http.get("/sign-in")
        token = re.search(r"name='csrf_token' value='([^']+)'", page.text)
        assert token is not None
        form = {"method": "key", "access_key": admin_key, "csrf_token": token.group(1)}
        assert (await http.post("/sign-in", data=form)).status_code == 303
        for path, deep, last in (
            ("/admin/users", "/admin/users?after=u49900", "u49950"),
            ("/admin/groups", "/admin/groups?after=g49900", "g49950"),
            ("/admin/destinations", "/admin/destinations?after=d49900", "d49950"),
            ("/admin/grants", f"/admin/grants?after={49900:032x}", "d49950"),
            ("/admin/grants?role=viewer&resource=d49990", None, "d49990"),
            ("/admin/access-keys", f"/admin/access-keys?after=k{49900:011}", "k00000049950"),
            ("/admin/audit", "/admin/audit?before=100", "u00050"),
        ):
            for url in (path, deep):
                if url is None:
                    continue
                started_at = time.perf_counter()
                answer = await http.get(url)
                took = time.perf_counter() - started_at
                assert answer.status_code == 200, (url, answer.text[:300])
                assert took < BUDGET, (url, took)
                assert answer.text.count("<tr data-key=") <= 50, url
            assert last in answer.text, deep or path
            assert 'id="next-page"' in answer.text or deep is None or "audit" in path
