"""`jot server rotate-root-key`: every secret at rest moves to a new root key, all or nothing.

Each sealed column of the schema gets a row, sealed as the code that writes it seals it; after
the rotation the authority starts with the new key only, and the code that reads each column
opens it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from jot.authority import maintenance
from jot.authority.app import Started, open_authority
from jot.authority.cli import server
from jot.authority.clock import to_datetime
from jot.authority.models import AccessKey, AuditEvent, Meta, SigningKey
from jot.authority.oidc.models import DeviceRequest, LoginAttempt, Provider, ProviderSession
from jot.authority.oidc.providers import client_secret
from jot.authority.oidc.sealed import (
    context,
    device_where,
    login_where,
    open_secret,
    seal,
    session_where,
)
from jot.authority.rekey import SEALED_COLUMNS, rotate_root_key
from jot.authority.rootkey import RootKey, RootKeyError, load_root_key, read_root_key_file
from jot.authority.settings import Settings
from jot.authority.state import Authority


def _key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def _sealed_rows(started: Started) -> None:
    """One row in each OIDC table with a sealed column, sealed as the OIDC code seals it."""
    authority = started.authority
    now = to_datetime(authority.clock())
    later = now + timedelta(minutes=10)
    with authority.db.transaction() as session:
        key = session.scalars(select(AccessKey)).first()
        assert key is not None
        provider = Provider(
            id="p1", name="idp", issuer="https://idp.test", client_id="jot", scopes='["openid"]',
            email_claim="email", name_claim="name", groups_claim="groups", allowed_domains="[]",
            revalidate_after=3600, created=now, updated=now,
        )  # fmt: skip
        provider.client_secret_enc = seal(authority, "client secret", where="provider:p1")
        session.add(provider)
        session.flush()
        session.add(ProviderSession(
            access_key_id=key.id, provider_id="p1", identity_id=key.identity_id, subject="s",
            refresh_enc=seal(authority, "refresh token", where=session_where(key.id)),
            last_check=now,
        ))  # fmt: skip
        session.add(LoginAttempt(
            state_hash="h" * 64, provider_id="p1", nonce="n", code_verifier="v",
            browser_hash="b" * 64, mode="cli", created=now, expires=later,
            result_enc=seal(authority, "login result", where=login_where("h" * 64)),
        ))  # fmt: skip
        session.add(DeviceRequest(
            id="d1", device_hash="d" * 64, user_code="ABCD-EFGH", provider_id="p1",
            status="approved", interval=5, created=now, expires=later,
            result_enc=seal(authority, "device result", where=device_where("d1")),
        ))  # fmt: skip


def _opened(authority: Authority) -> dict[str, Any]:
    """Every sealed value, opened by the code that reads it."""
    with authority.db.transaction(write=False) as session:
        provider = session.get(Provider, "p1")
        login = session.get(LoginAttempt, "h" * 64)
        device = session.get(DeviceRequest, "d1")
        oidc_session = session.scalars(select(ProviderSession)).one()
        assert provider is not None
        assert login is not None
        assert device is not None
        assert login.result_enc is not None
        assert device.result_enc is not None
        assert oidc_session.refresh_enc is not None
        return {
            "provider": client_secret(authority, provider),
            "session": open_secret(
                authority, oidc_session.refresh_enc,
                where=session_where(oidc_session.access_key_id),
            ),
            "login": open_secret(authority, login.result_enc, where=login_where("h" * 64)),
            "device": open_secret(authority, device.result_enc, where=device_where("d1")),
        }  # fmt: skip


EXPECTED = {
    "provider": "client secret",
    "session": "refresh token",
    "login": "login result",
    "device": "device result",
}


@pytest.fixture
def filled(started: Started) -> Started:
    _sealed_rows(started)
    assert _opened(started.authority) == EXPECTED
    return started


def _sealed_blobs(started: Started) -> list[bytes]:
    with started.authority.db.transaction(write=False) as session:
        blobs = [session.get(Meta, "root_key_check").value]  # type: ignore[union-attr]
        for model, column, _ in SEALED_COLUMNS:
            blobs += [getattr(row, column) for row in session.scalars(select(model))]
        return blobs


def test_every_sealed_column_has_a_row_here(filled: Started) -> None:
    # The rotation covers every sealed column; this test must fill each of them.
    with filled.authority.db.transaction(write=False) as session:
        for model, column, _ in SEALED_COLUMNS:
            rows = session.scalars(select(model).where(getattr(model, column).is_not(None)))
            assert rows.first() is not None, model.__name__


def test_rotation_moves_every_secret_to_the_new_key(
    filled: Started, settings_factory: Callable[..., Settings]
) -> None:
    authority = filled.authority
    old = load_root_key(authority.settings)
    new_text = _key_text()
    with authority.db.transaction(write=False) as session:
        signing_keys = len(session.scalars(select(SigningKey)).all())
    now = to_datetime(authority.clock())
    new = RootKey(base64.urlsafe_b64decode(new_text + "="))
    moved = rotate_root_key(authority.db, old, new, now)
    assert moved == signing_keys + 4
    filled.authority.close()

    with pytest.raises(RootKeyError, match="does not match this database"):
        open_authority(settings_factory())  # The old root.key, still in the data directory.
    again = open_authority(settings_factory(root_key=new_text))
    try:
        assert _opened(again.authority) == EXPECTED
        assert again.authority.keyring.signer().is_private  # The signing keys open.
        with again.authority.db.transaction(write=False) as session:
            kinds = session.scalars(select(AuditEvent.kind)).all()
        assert "root_key.rotated" in kinds
    finally:
        again.authority.close()


def test_a_wrong_or_same_key_changes_nothing(filled: Started) -> None:
    authority = filled.authority
    old = load_root_key(authority.settings)
    before = _sealed_blobs(filled)
    now = to_datetime(authority.clock())
    stranger = RootKey(os.urandom(32))
    with pytest.raises(RootKeyError, match="configured root key does not match"):
        rotate_root_key(authority.db, stranger, RootKey(os.urandom(32)), now)
    with pytest.raises(RootKeyError, match="already uses"):
        rotate_root_key(authority.db, old, old, now)
    assert _sealed_blobs(filled) == before
    assert _opened(authority) == EXPECTED


def test_a_value_that_does_not_open_rolls_everything_back(filled: Started) -> None:
    authority = filled.authority
    old = load_root_key(authority.settings)
    with authority.db.transaction() as session:
        device = session.get(DeviceRequest, "d1")
        assert device is not None
        device.result_enc = seal(authority, "x", where=device_where("other"))  # Bound elsewhere.
    before = _sealed_blobs(filled)
    with pytest.raises(RootKeyError, match=r"oidc_devices.result_enc does not open"):
        rotate_root_key(authority.db, old, RootKey(os.urandom(32)), to_datetime(authority.clock()))
    assert _sealed_blobs(filled) == before


def _rotate(data_dir: Path, key_file: Path, env: dict[str, str]) -> Result:
    """``jot server --data-dir DATA_DIR rotate-root-key KEY_FILE``, in process."""
    args = ["--data-dir", str(data_dir), "rotate-root-key", str(key_file)]
    return CliRunner().invoke(server, args, env=env)


def test_the_command(
    filled: Started, tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    filled.authority.close()
    settings = settings_factory()
    url = settings.database_url
    env = {"JOT_DATABASE_URL": url.get_secret_value()} if url is not None else {}
    missing = _rotate(settings.data_dir, tmp_path / "nope.key", env)
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines() == [
        f"Error: root key file {tmp_path / 'nope.key'} does not exist"
    ]
    new_file = tmp_path / "new.key"
    new_file.write_text(_key_text() + "\n")
    done = _rotate(settings.data_dir, new_file, env)
    assert done.exit_code == 0, done.output
    assert done.output.startswith("re-encrypted ")
    again = open_authority(settings_factory(root_key_file=new_file))
    try:
        assert _opened(again.authority) == EXPECTED
        assert read_root_key_file(new_file).matches(_sealed_blobs(again)[0])  # The check value.
    finally:
        again.authority.close()
    twice = _rotate(settings.data_dir, new_file, env)
    assert twice.exit_code == 1
    assert "does not match this database" in twice.output  # root.key is still the old one.


def _env(settings: Settings) -> dict[str, str]:
    url = settings.database_url
    return {"JOT_DATABASE_URL": url.get_secret_value()} if url is not None else {}


def test_rotation_refuses_while_a_server_holds_the_lock(
    filled: Started, tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    """A running server holds the lock shared (as `jot server` does); the rotation refuses
    with one line and changes nothing, and a server does not start during maintenance."""
    filled.authority.close()
    settings = settings_factory()
    new_file = tmp_path / "new.key"
    new_file.write_text(_key_text() + "\n")
    before = _sealed_blobs(filled)
    with maintenance.held(settings, exclusive=False), maintenance.held(settings, exclusive=False):
        refused = _rotate(settings.data_dir, new_file, _env(settings))
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        "Error: a jot server is running on this database: stop every server first"
    ]
    assert _sealed_blobs(filled) == before
    with maintenance.held(settings, exclusive=True):
        start = CliRunner().invoke(
            server, ["--data-dir", str(settings.data_dir)], env=_env(settings)
        )
        with (
            pytest.raises(maintenance.LockError, match="stop every server"),
            maintenance.held(settings, exclusive=True),
        ):
            pass
    assert start.exit_code == 1
    assert start.output.startswith("Error: maintenance (jot server rotate-root-key) is running")
    assert _rotate(settings.data_dir, new_file, _env(settings)).exit_code == 0  # Released.


def test_a_secret_sealed_under_another_key_stops_the_start(
    filled: Started, settings_factory: Callable[..., Settings]
) -> None:
    with filled.authority.db.transaction() as session:
        provider = session.get(Provider, "p1")
        assert provider is not None
        stranger = RootKey(os.urandom(32))
        provider.client_secret_enc = stranger.encrypt(b"x", context=context("provider:p1"))
    filled.authority.close()
    with pytest.raises(RootKeyError, match=r"oidc_providers.client_secret_enc does not open"):
        open_authority(settings_factory())
