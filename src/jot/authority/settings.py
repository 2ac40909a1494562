"""The authority's one settings object.

Precedence, lowest first: defaults, the TOML file (``--config``, ``JOT_CONFIG``, or
``$XDG_CONFIG_HOME/jot/server.toml`` when it exists), ``JOT_*`` environment variables, and
explicit keyword arguments (the command-line flags). Secrets are :class:`SecretStr`, so they
are masked in every ``repr`` and log line.
"""

from __future__ import annotations

import ipaddress
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from jot.api.requests import MAX_GRANT_DURATION

__all__ = [
    "Settings",
    "config_file_in_use",
    "default_config_file",
    "default_data_dir",
    "load_settings",
]

# The TOML file named by `load_settings(config_file=...)`, seen by the source hook below.
_CONFIG_FILE: ContextVar[Path | None] = ContextVar("jot_config_file", default=None)

SigningAlg = Literal["EdDSA", "ES256", "RS256", "PS256"]


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/jot``, falling back to ``~/.local/share/jot``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jot"


def default_config_file() -> Path:
    """``$XDG_CONFIG_HOME/jot/server.toml``, falling back to ``~/.config/jot/server.toml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jot" / "server.toml"


class Settings(BaseSettings):
    """Everything the authority can be told. Field ``x`` is read from ``JOT_X``."""

    model_config = SettingsConfigDict(env_prefix="JOT_", extra="forbid", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: SecretStr | None = None
    listen: str = "127.0.0.1:8080"
    issuer: str | None = None
    workers: int = Field(default=1, ge=1, le=64)

    root_key: SecretStr | None = None
    root_key_file: Path | None = None
    bootstrap_key: SecretStr | None = None
    bootstrap_key_file: Path | None = None
    bootstrap_key_lifetime: int = Field(default=86400, ge=600, description="seconds")
    #: PostgreSQL: seconds to connect, and for one statement (also bounds a hung server).
    database_connect_timeout: int = Field(default=5, ge=1, le=300)
    database_statement_timeout: float = Field(default=5.0, gt=0, le=3600)
    redis_url: SecretStr | None = None
    redis_timeout: float = Field(default=0.25, gt=0, le=5, description="per Redis call, seconds")
    #: Peers whose X-Forwarded-For / Forwarded headers name the client (IPs or CIDRs).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    signing_alg: SigningAlg = "EdDSA"
    rotation_period: int = Field(default=86400, ge=600, description="seconds a key signs")
    jwks_max_age: int = Field(default=300, ge=0, le=86400, description="JWKS Cache-Control")
    clock_skew: int = Field(default=300, ge=0, le=3600, description="nbf = iat - skew")
    key_reload_interval: float = Field(default=2.0, gt=0, le=60)

    access_key_lifetime: int = Field(default=30 * 86400, ge=60)
    access_key_inactivity: int = Field(default=3 * 86400, ge=60)

    login_max_failures: int = Field(default=5, ge=1)
    login_window: int = Field(default=900, ge=1)
    lockout_base: float = Field(default=1.0, gt=0)
    lockout_max: float = Field(default=900.0, gt=0)
    login_address_max_failures: int = Field(default=10, ge=1)
    login_account_max_failures: int = Field(default=20, ge=1)
    login_throttle_delay: float = Field(default=1.0, ge=0, le=10)
    anonymous_starts_per_address: int = Field(default=20, ge=1)
    anonymous_starts_total: int = Field(default=600, ge=1)

    #: A pending access request expires after this many seconds unanswered.
    access_request_ttl: int = Field(default=86400, ge=60, le=30 * 86400)
    #: The longest grant an access request may ask for.
    access_request_max_duration: int = Field(default=7 * 86400, ge=60, le=MAX_GRANT_DURATION)
    #: Where to POST access-request events (a chat or ticket system); signed with the secret.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    #: The web console's browser sessions end after this long without a request, and this
    #: long after sign-in whatever happens (seconds).
    web_session_idle: int = Field(default=1800, ge=60, le=7 * 86400)
    web_session_lifetime: int = Field(default=12 * 3600, ge=300, le=30 * 86400)

    #: Serve Swagger UI at /docs (its assets come from the fastapi-offline package).
    api_docs: bool = False

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_wait: int = Field(default=60, ge=1, le=600)
    # WAL + NORMAL survives a killed process (SIGKILL) without losing a commit; only a power
    # cut can drop the last commits. FULL syncs every commit to disk.
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = "NORMAL"

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    access_log: bool = False

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("listen must be HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):  # JOT_TRUSTED_PROXIES="10.0.0.1, 10.1.0.0/16"
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("webhook_secret must be at least 16 characters")
        return value

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> Settings:
        # An unsigned notification could be forged by anyone who finds the receiver's URL.
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("webhook_url needs webhook_secret (the body is signed with it)")
        return self

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def issuer_url(self) -> str:
        """The ``iss`` of every token: ``--issuer``, or derived from the listen address."""
        if self.issuer:
            return self.issuer.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard is no URL host
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'jot.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file (``None`` for PostgreSQL or an in-memory database)."""
        url = self.sqlalchemy_url
        path = url.split("///", 1)[1] if url.startswith("sqlite") and "///" in url else ""
        return Path(path) if path and path != ":memory:" else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _config_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def config_file_in_use() -> Path | None:
    """The TOML file that settings built now would read, if any (for the start banner)."""
    return _config_path()


def _config_path() -> Path | None:
    chosen = _CONFIG_FILE.get()
    if chosen is not None:
        return chosen
    explicit = os.environ.get("JOT_CONFIG")
    if explicit:
        return Path(explicit)
    candidate = default_config_file()
    return candidate if candidate.is_file() else None


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """Build the settings; ``flags`` that are ``None`` (not given) do not override anything."""
    given = {name: value for name, value in flags.items() if value is not None}
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file {config_file} does not exist")
    token = _CONFIG_FILE.set(config_file)
    try:
        return Settings(**given)
    finally:
        _CONFIG_FILE.reset(token)
