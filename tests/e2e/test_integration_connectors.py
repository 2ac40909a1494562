"""``jot connector`` processes against a REAL authority: forward auth behind real nginx, and
real kubectl through the Kubernetes proxy with ``jot token --format exec-credential`` (from a
kubeconfig written by ``jot kubeconfig``) as its credential plugin."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from jot.destination.tls import write_self_signed
from tests.destination.apiserver import FakeAPIServer, run_api_server
from tests.destination.servers import jot_process, serve_in_thread

from .integration_support import Realm, realm
from .test_nginx import recording_upstream, run_nginx

#: The jot next to this interpreter, by its absolute path (as `jot kubeconfig` writes it).
JOT = str(Path(sys.executable).parent / "jot")

pytestmark = pytest.mark.e2e

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


@dataclass
class Stack:
    world: Realm
    nginx_url: str
    seen: list[dict[str, str]]
    proxy_url: str
    proxy_ca: Path
    api: FakeAPIServer


@contextlib.contextmanager
def k8s_front(world: Realm, tmp: Path) -> Iterator[tuple[str, Path, FakeAPIServer]]:
    """``jot connector proxy --kubernetes`` between kubectl and a recording API server."""
    (tmp / "api").mkdir()
    (tmp / "proxy").mkdir()
    api_cert, api_key = write_self_signed(["127.0.0.1"], str(tmp / "api"))
    proxy_cert, proxy_key = write_self_signed(["127.0.0.1", "localhost"], str(tmp / "proxy"))
    api = FakeAPIServer()
    token_file = tmp / "sa-token"
    token_file.write_text(api.token + "\n")
    with run_api_server(api, str(api_cert), str(api_key)) as api_url:
        args = [
            "connector", "proxy", "--kubernetes", "--issuer", world.url, "--name", "k8s",
            "--access-key-file", str(world.key_file("web-connector")), "--listen", "127.0.0.1:0",
            "--upstream", api_url, "--upstream-ca", str(api_cert),
            "--upstream-token-file", str(token_file),
            "--tls-cert", str(proxy_cert), "--tls-key", str(proxy_key),
        ]  # fmt: skip
        with jot_process(*args) as proxy_url:
            yield proxy_url, proxy_cert, api


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("connectors")
    seen: list[dict[str, str]] = []
    with realm(tmp) as world:
        key_file = str(world.key_file("web-connector"))
        args = ["connector", "forward-auth", "--issuer", world.url, "--name", "web",
                "--access-key-file", key_file, "--listen", "127.0.0.1:0"]  # fmt: skip
        with (
            jot_process(*args) as auth_url,
            serve_in_thread(recording_upstream(seen)) as app_url,
            run_nginx(tmp / "nginx", auth_url, app_url) as nginx_url,
            k8s_front(world, tmp) as (proxy_url, proxy_ca, api),
        ):
            yield Stack(world, nginx_url, seen, proxy_url, proxy_ca, api)


def get(stack: Stack, token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(stack.nginx_url + "/hello", headers=headers, timeout=10)


def test_forward_auth_passes_a_real_token_with_identity_headers(stack: Stack) -> None:
    forged = {"X-Jot-User": "root", "X-Jot-Roles": "admin"}
    response = get(stack, stack.world.token(ALICE, "web"), **forged)
    assert response.status_code == 200, response.text
    headers = stack.seen[-1]
    assert headers["x-jot-user"] == ALICE
    assert headers["x-jot-subject"] == stack.world.ids[ALICE]
    assert headers["x-jot-groups"] == "ops"
    assert headers["x-jot-roles"] == "admin"
    assert "authorization" not in headers


def test_forward_auth_refuses_a_real_token_for_another_destination(stack: Stack) -> None:
    count = len(stack.seen)
    response = get(stack, stack.world.token(ALICE, "db"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert get(stack, None).status_code == 401
    assert len(stack.seen) == count


def test_forward_auth_valid_token_without_a_role_here_is_403(stack: Stack) -> None:
    # Bob's grant is on web.reports only: a token, but no role on the destination as a whole.
    assert get(stack, stack.world.token(BOB, "web")).status_code == 403


def test_user_without_a_grant_gets_no_token_at_all(stack: Stack) -> None:
    denied = stack.world.jot(CAROL, "token", "--for", "web", check=False)
    assert denied.returncode == 1
    assert "no grant" in denied.stderr
    assert denied.stdout == ""


def kubectl(stack: Stack, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Real kubectl with the kubeconfig from ``jot kubeconfig``; its credential plugin is
    the real ``jot token --format exec-credential`` of ``who``'s CLI home."""
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not installed")
    home = stack.world.homes[who]
    config = home / "kubeconfig"
    # kubectl's PATH has no jot: the kubeconfig names the jot that wrote it, by its path.
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PATH": os.pathsep.join(
            p
            for p in os.environ.get("PATH", "").split(os.pathsep)
            if not (Path(p) / "jot").exists()
        ),
    }
    env.pop("JOT_ACCESS_KEY", None)
    if not config.exists():
        made = subprocess.run(
            [JOT, "kubeconfig", "k8s", "--cluster-server", stack.proxy_url,
             "--certificate-authority", str(stack.proxy_ca), "--kubeconfig", str(config)],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    command = [found, "--kubeconfig", str(config), "--context", "jot-k8s",
               "--cache-dir", str(home / "kube-cache"), *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_kubeconfig_runs_jot_token_as_exec_credential(stack: Stack) -> None:
    kubectl(stack, ALICE, "version", "--client")
    config = yaml.safe_load((stack.world.homes[ALICE] / "kubeconfig").read_text())
    (user,) = config["users"]
    assert user["user"]["exec"]["command"] == JOT
    assert user["user"]["exec"]["args"] == [
        "token", "--for", "k8s", "--format", "exec-credential", "--server", stack.world.url,
    ]  # fmt: skip


def test_real_kubectl_with_real_tokens(stack: Stack) -> None:
    before = len(stack.api.seen)
    result = kubectl(stack, ALICE, "get", "namespaces", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["namespace/default", "namespace/kube-system"]
    new = stack.api.seen[before:]
    assert any(seen.path == "/api/v1/namespaces" for seen in new)
    for seen in new:
        assert seen.all("impersonate-user") == [ALICE]
        assert seen.all("impersonate-group") == ["ops", "jot:role:admin"]
        assert seen.all("authorization") == [f"Bearer {stack.api.token}"]


def test_real_kubectl_cannot_pick_another_identity(stack: Stack) -> None:
    before = len(stack.api.seen)
    result = kubectl(
        stack, BOB, "--as", "admin", "--as-group", "system:masters", "get", "namespaces"
    )
    assert result.returncode == 0, result.stderr
    new = stack.api.seen[before:]
    assert new
    for seen in new:
        assert seen.all("impersonate-user") == [BOB]
        assert seen.all("impersonate-group") == ["jot:role:view"]


def test_real_kubectl_user_without_grant_is_refused(stack: Stack) -> None:
    before = len(stack.api.seen)
    result = kubectl(stack, CAROL, "get", "--raw", "/api/v1/namespaces")
    assert result.returncode != 0
    assert "no grant" in result.stderr
    assert len(stack.api.seen) == before


def test_real_kubectl_with_a_namespace_grant(stack: Stack) -> None:
    """Issue 19 item 1 against the real authority: a grant on k8s.dev (and nothing
    cluster-wide) reaches the proxy with the grants it long-polls, and kubectl's requests go
    through with the namespace's role group only."""
    stack.world.jot("admin", "grants", "add", f"user:{CAROL}", "edit", "k8s.dev")
    try:
        deadline = time.monotonic() + 15
        while True:
            before = len(stack.api.seen)
            result = kubectl(stack, CAROL, "get", "pods", "-n", "dev", "-o", "name")
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["pod/app-dev"]
        new = stack.api.seen[before:]
        assert any(seen.path == "/api/v1/namespaces/dev/pods" for seen in new)
        for seen in new:
            assert seen.all("impersonate-user") == [CAROL]
            assert seen.all("impersonate-group") == ["jot:role:edit:dev"]
    finally:
        stack.world.jot("admin", "grants", "remove", f"user:{CAROL}", "edit", "k8s.dev")


def _refused_within(stack: Stack, checks: dict[str, object], limit: float) -> dict[str, float]:
    """Seconds until each check (a callable answering a status code) is refused (401)."""
    began, seen = time.monotonic(), {}
    while len(seen) < len(checks) and time.monotonic() - began < limit + 3:
        for name, check in checks.items():
            if name not in seen and check() == 401:  # type: ignore[operator]
                seen[name] = time.monotonic() - began
        time.sleep(0.02)
    return seen


def test_revocation_reaches_forward_auth_and_the_proxy_within_2_s(stack: Stack) -> None:
    """Issue 19 item 4: `jot revoke` pushes a deny entry through the grants long-poll; both
    connectors refuse within 2 s of the authority's answer (measured), with no restart."""
    admin = {"Authorization": f"Bearer {stack.world.server.admin_key()}"}
    web, k8s = stack.world.token(ALICE, "web"), stack.world.token(ALICE, "k8s")
    ca = ssl.create_default_context(cafile=str(stack.proxy_ca))

    def via_proxy(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        url = stack.proxy_url + "/api"
        return httpx.get(url, headers=headers, verify=ca, timeout=10).status_code

    checks = {"forward-auth": lambda: get(stack, web).status_code, "proxy": lambda: via_proxy(k8s)}
    assert {name: check() for name, check in checks.items()} == {"forward-auth": 200, "proxy": 200}
    # One token: only it is refused.
    with httpx.Client(base_url=stack.world.url, headers=admin, timeout=10) as api:
        jti = stack.world.jot(ALICE, "decode", "--json", web).stdout
        made = api.post("/api/revocations", json={"token": json.loads(jti)["payload"]["jti"]})
        assert made.status_code == 201, made.text
        took = _refused_within(stack, {"forward-auth": checks["forward-auth"]}, 2)
        assert took.get("forward-auth", 99) < 2, took
        assert via_proxy(k8s) == 200
        # The user: every token, at both.
        made = api.post("/api/revocations", json={"subject": f"user:{ALICE}"})
        assert made.status_code == 201, made.text
        took = _refused_within(stack, {"proxy": checks["proxy"]}, 2)
    assert took.get("proxy", 99) < 2, took
    assert get(stack, web).status_code == 401
