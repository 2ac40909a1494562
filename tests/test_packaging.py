"""jot as a user installs it: the built wheel, installed by `uv tool install` into a fresh
tool environment (what `pipx install` does too), runs `jot --version`, and with the `server`
extra a real `jot server` that hands out a token; without an extra, `jot` says which one to
install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jot.jose import KeySet, jwt
from tests.e2e.test_authority_support import free_port, wait_ready

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).parent / "uv"


def run(*args: str | Path, env: dict[str, str] | None = None, stdin: str = "") -> str:
    done = subprocess.run(
        [str(a) for a in args], input=stdin, capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--offline", "--quiet", "-o", out, ROOT)
    (built,) = out.glob("jot-*.whl")
    return built


def install(wheel: Path, home: Path, extra: str = "") -> Path:
    """``uv tool install 'jot[EXTRA] @ WHEEL'`` into ``home``; the path of its ``jot``."""
    env = {"UV_TOOL_DIR": str(home / "tools"), "UV_TOOL_BIN_DIR": str(home / "bin")}
    spec = f"jot{f'[{extra}]' if extra else ''} @ {wheel.as_uri()}"
    run(UV, "tool", "install", "--quiet", "--python", sys.executable, spec, env=env)
    return home / "bin" / "jot"


def test_the_wheel_carries_what_the_server_needs(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert "jot/py.typed" in names
    assert any(n.startswith("jot/authority/migrations/versions/") for n in names)
    # `jot server` is the CLI handing over to the authority: the server extra brings both.
    assert _extra(metadata, "cli") <= _extra(metadata, "server")
    assert "click>=8.1" in _extra(metadata, "server")


def _extra(metadata: str, name: str) -> set[str]:
    marker = f"; extra == '{name}'"
    return {
        line.removeprefix("Requires-Dist: ").removesuffix(marker)
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ") and line.endswith(marker)
    }


def test_without_an_extra_jot_says_which_to_install(wheel: Path, tmp_path: Path) -> None:
    jot = install(wheel, tmp_path)
    assert run(jot, "--version").startswith("jot, version ")
    done = subprocess.run([jot, "users", "list"], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr == (
        "Error: the jot command needs its extra: pipx install 'jot[cli]' (or 'jot[server]' to "
        "run the authority too)\n"
    )


@pytest.fixture
def installed_server(wheel: Path, tmp_path: Path) -> Iterator[tuple[Path, str, Path]]:
    jot = install(wheel, tmp_path, "server")
    port = free_port()
    url, data = f"http://127.0.0.1:{port}", tmp_path / "data"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [jot, "server", "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_ready(url, process, log, timeout=60)
        yield jot, url, data
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_server_extra_runs_an_authority_that_issues_a_token(
    installed_server: tuple[Path, str, Path], tmp_path: Path
) -> None:
    jot, url, data = installed_server
    assert run(jot, "--version").startswith("jot, version ")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    key = (data / "admin.key").read_text().strip()
    run(jot, "login", url, "--key-stdin", env=env, stdin=key + "\n")
    run(jot, "destinations", "add", "web", env=env)
    run(jot, "grants", "add", "user:admin", "viewer", "web", env=env)
    token = run(jot, "token", "--for", "web", env=env).strip()
    keys = KeySet.from_dict(httpx.get(f"{url}/.well-known/jwks.json", timeout=10).json())
    claims = jwt.decode(token, keys, issuer=url, audience="web", typ="jot+jwt")
    assert claims["name"] == "admin"
    assert json.loads(run(jot, "whoami", "--json", env=env))["name"] == "admin"
