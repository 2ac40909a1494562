"""What ``jot server`` says when it starts: where it listens, which config file and database
it uses, and, on the very first start, where the admin access key is.

The key is shown on the terminal only. When the output is not a terminal (a service manager,
a container, a log file), the key goes to ``<data_dir>/admin.key`` (0600) instead, and the
output names that file: logs are kept, copied and shipped, and must not hold a key.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import make_url

from jot.authority.settings import Settings, config_file_in_use

__all__ = ["admin_key_file", "announce", "describe_database"]

log = logging.getLogger("jot.authority")


def describe_database(settings: Settings) -> str:
    """``SQLite /path/jot.db`` or the PostgreSQL URL without its password."""
    if settings.sqlite_file is not None:
        return f"SQLite {settings.sqlite_file}"
    url = make_url(settings.sqlalchemy_url)
    return url.render_as_string(hide_password=True)


def admin_key_file(settings: Settings) -> Path:
    return settings.data_dir / "admin.key"


def _hours(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds // 60} min"


def _key_lines(settings: Settings, key: str, out: TextIO) -> list[str]:
    url, lifetime = settings.issuer_url, _hours(settings.bootstrap_key_lifetime)
    if not out.isatty():
        path = admin_key_file(settings)
        try:
            _write_private(path, key)
        except OSError as exc:
            return [
                f"cannot write the admin access key to {path} ({exc.strerror or exc}); "
                "make a new one with `jot server admin-key`"
            ]
        return [
            f"The admin access key (valid {lifetime}) is in {path} (mode 0600): "
            "log in with it, make a named admin, then delete the file."
        ]
    return [
        "",
        f"The admin access key, shown only this once (valid {lifetime}; store it now):",
        "",
        f"    {key}",
        "",
        "Try, in another terminal:",
        f"    echo {key} | jot login {url} --key-stdin",
        "    jot destinations add web",
        "    jot users add alice@example.com --password",
        "    jot grants add user:alice@example.com viewer web",
        "    jot grants add user:admin viewer web",
        "    jot token --for web | jot decode",
        f"    curl -s {url}/.well-known/jwks.json",
        "",
    ]


def _write_private(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.unlink(missing_ok=True)  # A key file left from an earlier data dir: never reused.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")


def announce(settings: Settings, key: str | None, out: TextIO) -> None:
    """Say where the server runs; hand over the bootstrap ``key`` (first start only)."""
    config = config_file_in_use()
    head = [
        f"jot authority on http://{settings.listen} (issuer {settings.issuer_url})",
        f"  config:   {config if config is not None else 'none (defaults, JOT_* and flags)'}",
        f"  database: {describe_database(settings)}",
        f"  console:  {settings.issuer_url}/ (the web console; the token debugger is at /debug)",
    ]
    tail = _key_lines(settings, key, out) if key is not None else []
    text = head + tail
    if settings.log_format == "json":
        # Log lines for machines; the key itself only ever goes to a terminal.
        for line in head if out.isatty() else head + tail:
            log.info(line.strip())
        text = tail if out.isatty() else []
    if text:
        out.write("\n".join(text) + "\n")
        out.flush()
