"""The real `jot login --provider` (loopback redirect) and `jot login --device` (RFC 8628),
as subprocesses, against a real authority and a real provider; httpx plays the browser."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import oidc_harness
import pytest

from jot.authority.oidc import handoff

JOT = [sys.executable, "-c", "from jot.cli.entry import main; main()"]
URL_RE = re.compile(r"(http://\S+)")
CODE_RE = re.compile(r"enter the code ([A-Z]{4}-[A-Z]{4})")


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONWARNINGS": "ignore",
    }


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*JOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path)
    )


def _read_until(process: subprocess.Popen[str], pattern: re.Pattern[str]) -> re.Match[str]:
    assert process.stderr is not None
    seen = []
    for _ in range(20):  # Bounded: the CLI prints a few lines, then waits.
        line = process.stderr.readline()
        seen.append(line)
        found = pattern.search(line)
        if found:
            return found
        if not line:
            break
    raise AssertionError(f"no match in the CLI output: {seen!r}")


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def _whoami(tmp_path: Path) -> dict[str, object]:
    done = subprocess.run(
        [*JOT, "whoami", "--json"], capture_output=True, text=True, env=_env(tmp_path), timeout=30
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cli_loopback_login(server, provider, user, browser, tmp_path) -> None:
    cli = _start(["login", server.url, "--provider", provider, "--no-browser"], tmp_path)
    try:
        url = _read_until(cli, URL_RE).group(1)
        form = browser.get(url)
        assert form.url.path == "/oauth2/authorize"
        page = browser.post(str(form.url), data={"sub": user})
        assert page.url.host == "127.0.0.1"
        assert page.url.path == "/callback"
        assert "You are logged in" in page.text
        code, out, err = _finish(cli)
    finally:
        cli.kill()
        cli.wait()
    assert code == 0, err
    assert f"as {user}@example.com" in out
    me = _whoami(tmp_path)
    assert me["name"] == f"{user}@example.com"
    assert me["groups"] == ["dev", "ops"]


def test_cli_loopback_refusal_is_one_line(server, provider, idp, browser, tmp_path) -> None:
    idp.set_user("nomail", name="No Mail")  # No e-mail claim: jot cannot name the user.
    cli = _start(["login", server.url, "--provider", provider, "--no-browser"], tmp_path)
    try:
        url = _read_until(cli, URL_RE).group(1)
        form = browser.get(url)
        browser.post(str(form.url), data={"sub": "nomail"})
        code, _out, err = _finish(cli)
    finally:
        cli.kill()
        cli.wait()
    assert code == 1
    assert "no usable e-mail address" in err
    assert "Traceback" not in err


def test_cli_device_login(server, provider, user, browser, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(handoff, "DEVICE_INTERVAL", 1)
    # One provider on this server: --device needs no --provider.
    cli = _start(["login", server.url, "--device"], tmp_path)
    try:
        user_code = _read_until(cli, CODE_RE).group(1)
        # The person types the code in lower case without the dash; that is fine.
        confirm = oidc_harness.confirm_device(
            browser, server.url, user_code.replace("-", "").lower()
        )
        assert confirm.url.path == "/oauth2/authorize"
        page = browser.post(str(confirm.url), data={"sub": user})
        assert "Go back to your terminal" in page.text
        code, out, err = _finish(cli)
    finally:
        cli.kill()
        cli.wait()
    assert code == 0, err
    assert f"as {user}@example.com" in out
    assert _whoami(tmp_path)["groups"] == ["dev", "ops"]


def test_device_code_polling_rules(server, provider) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        start = http.post("/api/oidc/device", json={"provider": provider}).json()
        grant = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}
        first = http.post(
            "/api/oidc/device/token", data={**grant, "device_code": start["device_code"]}
        )
        assert first.json()["error"] == "authorization_pending"
        second = http.post(
            "/api/oidc/device/token", data={**grant, "device_code": start["device_code"]}
        )
        assert second.json()["error"] == "slow_down"
        bad = http.post("/api/oidc/device/token", data={**grant, "device_code": "nope"})
        assert bad.json()["error"] == "invalid_grant"
        wrong = oidc_harness.confirm_device(http, server.url, "BBBB-BBBB")
        assert wrong.status_code == 400
        assert "unknown or expired" in wrong.text


@pytest.mark.parametrize(
    "redirect", ["http://evil.example/cb", "https://127.0.0.1:1/cb", "http://127.0.0.1:1/cb\n"]
)
def test_cli_redirect_must_be_loopback(server, provider, redirect) -> None:
    challenge = "A" * 43
    response = httpx.get(
        f"{server.url}/oidc/{provider}/login",
        params={"redirect_uri": redirect, "code_challenge": challenge},
    )
    assert response.status_code == 400
    assert "loopback" in response.text


def test_guessing_user_codes_is_limited(server, provider, browser) -> None:
    statuses = [
        oidc_harness.confirm_device(browser, server.url, "BBBB-BBBB").status_code for _ in range(7)
    ]
    assert statuses[0] == 400
    assert statuses[-1] == 429


def test_device_without_provider_when_several(server, provider, idp) -> None:
    with server.api() as api:
        body = {"name": "other", "issuer": idp.issuer, "client_id": "c"}
        assert api.post("/api/providers", json=body).status_code == 201
    answer = httpx.post(f"{server.url}/api/oidc/device", json={})
    assert answer.status_code == 400
    assert answer.json()["message"] == "name a provider with --provider: mock, other"


def test_cli_unknown_provider_is_one_line(server, provider, tmp_path) -> None:
    done = subprocess.run(
        [*JOT, "login", server.url, "--provider", "nope", "--no-browser"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: no provider named 'nope' (known: mock)"
