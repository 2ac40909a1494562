"""`jot server` at start: every mistake is one line before anything is created, a failed first
start leaves nothing half-made, files at rest are private, the bootstrap key expires and
never reaches a log, and the banner names the config file and the database."""

from __future__ import annotations

import io
import os
import socket
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from jot.authority.app import open_authority
from jot.authority.banner import announce
from jot.authority.cli import server
from jot.authority.models import AccessKey
from jot.authority.rootkey import RootKeyError
from jot.authority.settings import Settings

FIRST_START_FILES = ("jot.db", "jot.db-wal", "jot.db-shm", "root.key", "admin.key")


def _start(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``jot server ARGS`` in this process: each test here fails before it would serve."""
    listen = [] if "--listen" in args else ["--listen", "127.0.0.1:0"]
    result = CliRunner().invoke(server, [*args, *listen], env=env)
    return result.exit_code, result.output


def _made(data: Path) -> list[str]:
    return [name for name in FIRST_START_FILES if (data / name).exists()]


def test_a_toml_syntax_error_is_file_line_column(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('issuer = "https://auth.example"\nlisten = \n')
    code, output = _start("--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert code == 1
    assert output == f"Error: {config}:2:10: Invalid value\n"
    assert not (tmp_path / "data").exists()


def test_a_busy_port_is_found_before_anything_is_made(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, output = _start("--data-dir", str(tmp_path / "data"), "--listen", f"127.0.0.1:{port}")
    assert code == 1
    assert output == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert not (tmp_path / "data").exists()


def test_a_bad_bootstrap_key_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key_file = tmp_path / "boot.key"
    key_file.write_text("not-a-key\n")
    code, output = _start("--data-dir", str(data), "--bootstrap-key-file", str(key_file))
    assert code == 1
    assert output == "Error: the bootstrap key must look like jot_ak_<12 chars>_<32 chars>\n"
    assert _made(data) == []


def test_a_failed_first_start_takes_back_what_it_made(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with pytest.raises(RootKeyError, match="does not exist"):
        open_authority(Settings(data_dir=data, root_key_file=tmp_path / "missing.key"))
    assert _made(data) == []
    code, output = _start("--data-dir", str(data), env={"JOT_ROOT_KEY_FILE": str(tmp_path / "x")})
    assert (code, output) == (1, f"Error: root key file {tmp_path / 'x'} does not exist\n")
    assert _made(data) == []


def test_an_existing_database_is_never_taken_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_authority(Settings(data_dir=data)).authority.close()
    (data / "root.key").rename(tmp_path / "root.key")
    with pytest.raises(RootKeyError, match="does not match"):
        open_authority(Settings(data_dir=data))  # A fresh root.key: the wrong one.
    assert _made(data) == ["jot.db"]  # The database stays; the new root.key went.


def test_a_read_only_data_dir_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    command = [sys.executable, "-m", "jot.authority", "--data-dir", str(data), "--listen",
               "127.0.0.1:0"]  # fmt: skip
    if os.geteuid() == 0:  # Root writes through any mode: make the file system read-only.
        mount = f'mount --bind {data} {data} && mount -o remount,ro,bind {data} && exec "$@"'
        command = ["unshare", "-m", "sh", "-c", mount, "sh", *command]
    else:
        data.chmod(0o555)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    assert done.stderr == f"Error: data dir {data} is not writable ({reason})\n"
    assert _made(data) == []


def test_database_files_are_private_in_an_open_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    started = open_authority(Settings(data_dir=data))
    try:
        for name in ("jot.db", "jot.db-wal", "jot.db-shm", "root.key"):
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    finally:
        started.authority.close()
    (data / "jot.db").chmod(0o644)  # Made by an older version, or by hand.
    open_authority(Settings(data_dir=data)).authority.close()
    assert stat.S_IMODE((data / "jot.db").stat().st_mode) == 0o600


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bootstrap_key_expires_and_never_reaches_a_log(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", bootstrap_key_lifetime=7200)
    started = open_authority(settings)
    key = started.bootstrap_key
    assert key is not None
    with started.authority.db.transaction(write=False) as session:
        row = session.scalars(select(AccessKey)).one()
    assert row.expires is not None
    assert row.expires - row.created == timedelta(hours=2)
    started.authority.close()

    log = io.StringIO()
    announce(settings, key, log)
    key_file = settings.data_dir / "admin.key"
    assert key not in log.getvalue()
    assert f"The admin access key (valid 2 h) is in {key_file} (mode 0600)" in log.getvalue()
    assert key_file.read_text() == key + "\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    key_file.unlink()
    terminal = _Terminal()
    announce(settings, key, terminal)
    assert f"    {key}\n" in terminal.getvalue()
    assert not key_file.exists()


def test_the_banner_names_the_config_file_and_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "server.toml"
    config.write_text('listen = "127.0.0.1:9999"\n')
    monkeypatch.setenv("JOT_CONFIG", str(config))
    out = io.StringIO()
    announce(Settings(data_dir=tmp_path / "data"), None, out)
    assert out.getvalue().splitlines() == [
        "jot authority on http://127.0.0.1:9999 (issuer http://127.0.0.1:9999)",
        f"  config:   {config}",
        f"  database: SQLite {tmp_path / 'data' / 'jot.db'}",
        "  console:  http://127.0.0.1:9999/ (the web console; the token debugger is at /debug)",
    ]
    monkeypatch.delenv("JOT_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing"))
    out = io.StringIO()
    url = "postgresql+psycopg://jot:s3cret@db.internal/jot"
    announce(Settings(data_dir=tmp_path, database_url=url), None, out)
    assert out.getvalue().splitlines()[1:] == [
        "  config:   none (defaults, JOT_* and flags)",
        "  database: postgresql+psycopg://jot:***@db.internal/jot",
        "  console:  http://127.0.0.1:8080/ (the web console; the token debugger is at /debug)",
    ]


def test_the_workers_shared_socket_hands_tcp_nodelay_to_its_connections() -> None:
    """Without it every keep-alive response of a worker waited ~40 ms for a delayed ACK."""
    from jot.authority.server import _Config

    listener = _Config("x:y", host="127.0.0.1", port=0, workers=2).bind_socket()
    try:
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as _client:
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        listener.close()
