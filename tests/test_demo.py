"""The `make run` demo: every step is shown and the tampered token is rejected."""

from __future__ import annotations

import os
import subprocess
import sys

from jot import demo
from jot.jose import jwk, jwt


def test_demo_walks_through_every_step(capsys, monkeypatch):
    monkeypatch.setenv("JOT_NOW", "1800000000")
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


def test_tamper_changes_exactly_one_character():
    key = jwk.generate("Ed25519", alg="EdDSA")
    token = jwt.encode({"exp": 2**31, "sub": "alice"}, key)
    changed = demo.tamper(token)
    assert len(changed) == len(token)
    assert sum(a != b for a, b in zip(token, changed, strict=True)) == 1


def test_demo_runs_as_a_program():
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "jot.demo"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "rejected" in result.stdout
    assert result.stderr == ""
