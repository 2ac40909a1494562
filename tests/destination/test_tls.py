"""The connectors' development certificate: kept in the data directory and served again at
every start (kubectl trusts it through its kubeconfig), made again only when it cannot serve,
and never left in the temporary directory."""

from __future__ import annotations

import datetime
import json
import os
import ssl
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from jot.destination.tls import DEVELOPMENT_VALIDITY_DAYS, development_certificate
from jot.jose import jwk
from tests.destination.servers import JOT, stop

NOW = datetime.datetime(2026, 1, 15, 8, tzinfo=datetime.UTC)
HOSTS = ["127.0.0.1", "localhost"]


def test_the_kept_certificate_is_used_again(tmp_path: Path) -> None:
    first = development_certificate(tmp_path / "tls", "proxy-k8s", HOSTS, now=NOW)
    assert first.made == "none was kept yet"
    assert first.cert == tmp_path / "tls" / "proxy-k8s.crt"
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    pem = first.cert.read_bytes()
    later = NOW + datetime.timedelta(days=300)
    again = development_certificate(tmp_path / "tls", "proxy-k8s", HOSTS, now=later)
    assert again.made is None
    assert again.cert.read_bytes() == pem
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(again.cert, again.key)
    other = development_certificate(tmp_path / "tls", "webhook-k8s", HOSTS, now=NOW)
    assert other.cert.read_bytes() != pem  # One per connector and destination.


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("expiring", "the kept one expires on"),
        ("new host", "the kept one does not name 10.0.0.7"),
        ("other key", "the kept certificate does not match its key"),
        ("garbage", "the kept one cannot be read"),
    ],
)
def test_a_certificate_that_cannot_serve_is_made_again(
    tmp_path: Path, change: str, why: str
) -> None:
    kept = development_certificate(tmp_path, "webhook-k8s", HOSTS, now=NOW)
    hosts, now = HOSTS, NOW
    if change == "expiring":
        now = NOW + datetime.timedelta(days=DEVELOPMENT_VALIDITY_DAYS - 10)
    elif change == "new host":
        hosts = [*HOSTS, "10.0.0.7"]
    elif change == "other key":
        other = development_certificate(tmp_path, "other", HOSTS, now=NOW)
        kept.key.write_bytes(other.key.read_bytes())
    else:
        kept.cert.write_text("not a certificate")
    made = development_certificate(tmp_path, "webhook-k8s", hosts, now=now)
    assert made.made is not None
    assert made.made.startswith(why)
    assert development_certificate(tmp_path, "webhook-k8s", hosts, now=now).made is None


def _start(
    args: list[str], env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start a connector; ``(process, URL, its stderr so far)`` once it listens."""
    with log.open("wb") as errors:
        process = subprocess.Popen([JOT, *args], stdout=subprocess.PIPE, stderr=errors, env=env)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    line = b""
    while time.monotonic() < deadline and not line.startswith(b"listening on "):
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
    said = log.read_text()
    if not line.startswith(b"listening on "):
        stop(process)
        raise AssertionError(said)
    return process, line.decode().removeprefix("listening on ").strip(), said


@pytest.mark.parametrize("command", ["webhook", "proxy"])
def test_a_connector_serves_the_same_certificate_after_a_restart(
    tmp_path: Path, command: str
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk.generate("Ed25519").public().to_dict()]}))
    grants = tmp_path / "grants.toml"
    grants.write_text("grants = []\n")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "JOT_DATA_DIR": str(tmp_path / "data")}
    args = ["connector", command, "--name", "k8s", "--jwks-file", str(jwks),
            "--grants-file", str(grants), "--listen", "127.0.0.1:0"]  # fmt: skip
    if command == "proxy":
        args += ["--upstream", "https://127.0.0.1:9"]
    cert = tmp_path / "data" / "tls" / f"{command}-k8s.crt"
    seen = []
    for start in ("first", "second"):
        process, url, said = _start(args, env, tmp_path / "stderr")
        try:
            assert f"certificate ({'none was kept yet' if start == 'first' else 'kept'}" in (
                said.replace("development certificate (kept from", "certificate (kept").replace(
                    "new development certificate (none", "certificate (none"
                )
            ), said
            assert str(cert) in said
            # A client that trusts the kept file reaches the connector (no verify=False).
            answer = httpx.get(f"{url}/", verify=ssl.create_default_context(cafile=cert))
            assert answer.status_code in (400, 401, 404, 405)
            seen.append(cert.read_bytes())
        finally:
            stop(process)
    assert seen[0] == seen[1]
    assert list(scratch.iterdir()) == []  # Nothing left in the temporary directory.
