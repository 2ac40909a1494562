"""`jot server admin-key`: a lost admin key is replaced on the host, with the root key and
the database; the data stays, the event is audited, and a wrong root key gets nothing."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from jot.authority.app import Started, create_app, open_authority
from jot.authority.cli import server
from jot.authority.models import AuditEvent
from jot.authority.settings import Settings


def _admin_key(
    settings: Settings, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    url = settings.database_url
    full_env = {"JOT_DATABASE_URL": url.get_secret_value()} if url is not None else {}
    result = CliRunner().invoke(
        server, ["--data-dir", str(settings.data_dir), "admin-key", *args],
        env={**full_env, **(env or {})},
    )  # fmt: skip
    return result.exit_code, result.output


async def _whoami(started: Started, key: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    async with httpx.AsyncClient(transport=transport, base_url="http://authority.test") as http:
        return await http.get("/api/whoami", headers={"Authorization": f"Bearer {key}"})


@pytest.mark.anyio
async def test_a_new_admin_key_keeps_the_data_and_is_audited(
    started: Started, settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    started.authority.close()
    settings = settings_factory()
    code, output = _admin_key(settings)
    assert code == 0, output
    key = output.strip()
    assert key.startswith("jot_ak_")
    code, output = _admin_key(settings, "--name", "bob@example.com", "--out", str(tmp_path / "k"))
    assert code == 0, output
    assert (
        output == f"a new admin access key for bob@example.com is in {tmp_path / 'k'} (mode 0600)\n"
    )
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    again = open_authority(settings)
    try:
        for who, token in (
            ("admin", key),
            ("bob@example.com", (tmp_path / "k").read_text().strip()),
        ):
            me = await _whoami(again, token)
            assert me.status_code == 200, me.text
            assert me.json()["name"] == who
            assert "admin" in me.json()["roles"]
        with again.authority.db.transaction(write=False) as session:
            events = session.scalars(
                select(AuditEvent).where(AuditEvent.kind == "admin_key.recovered")
            ).all()
        assert sorted(e.target for e in events) == ["admin", "bob@example.com"]
    finally:
        again.authority.close()


def test_a_wrong_root_key_or_no_database_gets_nothing(
    started: Started, settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    started.authority.close()
    stranger = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    code, output = _admin_key(settings_factory(), env={"JOT_ROOT_KEY": stranger})
    assert (code, output) == (
        1,
        "Error: the root key does not match this database (wrong root.key or JOT_ROOT_KEY)\n",
    )
    empty = Settings(data_dir=tmp_path / "elsewhere")
    code, output = _admin_key(empty)
    assert (code, output) == (
        1,
        f"Error: no database at {tmp_path / 'elsewhere' / 'jot.db'} (check --data-dir)\n",
    )
    assert not (tmp_path / "elsewhere").exists()
