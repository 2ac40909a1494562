"""Login back-off (in-process and Redis), settings precedence, root key handling."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from jot.authority.bootstrap import BootstrapError, bootstrap
from jot.authority.db import Database, migrate
from jot.authority.ratelimit import LimiterPolicy, MemoryLimiter, RedisLimiter
from jot.authority.rootkey import RootKeyError, load_root_key
from jot.authority.settings import Settings, load_settings

POLICY = LimiterPolicy(max_failures=3, window=60, base=2.0, cap=10.0)


class Tick:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_and_is_capped() -> None:
    assert [POLICY.lockout(n) for n in range(1, 8)] == [0, 0, 2, 4, 8, 10, 10]


def test_memory_limiter_locks_and_unlocks() -> None:
    tick = Tick()
    limiter = MemoryLimiter(clock=tick)
    for _ in range(3):
        assert limiter.retry_after("name:a") == 0
        limiter.count("name:a", POLICY)
    assert limiter.retry_after("name:a") == pytest.approx(2)
    assert limiter.retry_after("name:b") == 0
    tick.now += 2.1
    assert limiter.retry_after("name:a") == 0
    limiter.count("name:a", POLICY)
    assert limiter.retry_after("name:a") == pytest.approx(4)
    limiter.clear("name:a")
    assert limiter.retry_after("name:a") == 0
    # Events older than the window are forgotten.
    limiter.count("name:c", POLICY)
    limiter.count("name:c", POLICY)
    tick.now += 61
    limiter.count("name:c", POLICY)
    assert limiter.retry_after("name:c") == 0


@pytest.mark.redis
def test_redis_limiter_is_shared() -> None:
    url = os.environ.get("JOT_TEST_REDIS_URL")
    if not url:
        pytest.fail("JOT_TEST_REDIS_URL is not set: run the suite with `make test`")
    prefix = f"jot-test-{secrets.token_hex(6)}:"
    one, two = RedisLimiter(url, prefix=prefix), RedisLimiter(url, prefix=prefix)
    for _ in range(3):
        one.count("name:a", POLICY)
    assert 1.0 < two.retry_after("name:a") <= 2.0
    two.clear("name:a")
    assert one.retry_after("name:a") == 0
    one.close()
    two.close()


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "server.toml"
    config.write_text('listen = "127.0.0.1:9000"\nissuer = "https://from-file"\nworkers = 3\n')
    monkeypatch.setenv("JOT_ISSUER", "https://from-env")
    monkeypatch.setenv("JOT_DATABASE_URL", "postgresql+psycopg://u:hunter2@db/jot")
    settings = load_settings(config, workers=2, listen=None)
    assert settings.listen == "127.0.0.1:9000"
    assert settings.issuer_url == "https://from-env"
    assert settings.workers == 2
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    with pytest.raises(ValidationError):
        load_settings(config, listen="nonsense")
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")


def test_defaults_follow_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    settings = Settings()
    assert settings.data_dir == tmp_path / "data" / "jot"
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'data' / 'jot' / 'jot.db'}"
    assert settings.issuer_url == "http://127.0.0.1:8080"
    assert Settings(listen="0.0.0.0:80").issuer_url == "http://127.0.0.1:80"


def test_root_key_file_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_root_key(settings)
    path = tmp_path / "root.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    blob = first.encrypt(b"secret", context=b"kid")
    assert load_root_key(settings).decrypt(blob, context=b"kid") == b"secret"
    with pytest.raises(RootKeyError):
        first.decrypt(blob, context=b"other-kid")
    with pytest.raises(RootKeyError):
        load_root_key(Settings(data_dir=tmp_path, root_key="short"))


def test_wrong_root_key_is_refused_at_start(tmp_path: Path) -> None:
    from jot.authority.app import open_authority

    settings = Settings(data_dir=tmp_path)
    open_authority(settings).authority.close()
    (tmp_path / "root.key").unlink()
    with pytest.raises(RootKeyError, match="does not match"):
        open_authority(settings)


def test_supplied_bootstrap_key(tmp_path: Path) -> None:
    key = "jot_ak_" + "a" * 12 + "_" + "b" * 32
    (tmp_path / "boot").write_text(key + "\n")
    settings = Settings(data_dir=tmp_path, bootstrap_key_file=tmp_path / "boot")
    db = Database(settings.sqlalchemy_url)
    migrate(db)
    assert bootstrap(db, settings, lambda: 1e9) is None  # supplied, so nothing to print
    assert bootstrap(db, settings, lambda: 1e9) is None  # and only once
    with pytest.raises(BootstrapError):
        bootstrap(db, Settings(data_dir=tmp_path, bootstrap_key="not-a-key"), lambda: 1e9)
    db.dispose()
