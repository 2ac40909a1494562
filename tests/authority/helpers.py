"""Helpers for authority tests: fresh databases on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text


def postgres_base_url() -> str:
    url = os.environ.get("JOT_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("JOT_TEST_POSTGRES_URL is not set: run the suite with `make test`")
    return url


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose connections use a fresh, private schema; dropped afterwards."""
    base = postgres_base_url()
    schema = f"jot_t_{secrets.token_hex(6)}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@contextlib.contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'jot.db'}"
        return
    with postgres_schema() as url:
        yield url
