"""examples/demo.py: every step is shown, `jot decode` runs, and the tampered token is rejected."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from jot.jose import jwk, jwt

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_walks_through_every_step(demo, capsys):
    demo.main()
    out = capsys.readouterr().out
    for step in ("1. A signing key", "2. A token", "3. Decoded", "4. Verified", "5. The same"):
        assert step in out
    assert '"name": "alice@example.com"' in out
    assert '"groups": [' in out
    assert "expires in 5m" in out
    assert "valid since 5m ago" in out
    assert "signature was NOT checked" in out
    assert "✓ valid" in out
    assert "✗ rejected: bad_signature" in out
    assert "bug" not in out


def test_tamper_changes_exactly_one_character(demo):
    key = jwk.generate("Ed25519", alg="EdDSA")
    token = jwt.encode({"exp": 2**31, "sub": "alice"}, key)
    changed = demo.tamper(token)
    assert len(changed) == len(token)
    assert sum(a != b for a, b in zip(token, changed, strict=True)) == 1


def test_demo_runs_as_a_program():
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "rejected" in result.stdout
    assert result.stderr == ""
