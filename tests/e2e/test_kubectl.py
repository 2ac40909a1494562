"""Real kubectl through ``jot connector proxy --kubernetes`` to a recording fake API server.

The kubeconfig's user is an exec credential plugin that prints an ExecCredential with a jot
token, exactly what ``jot token --for k8s --format exec-credential`` prints; the tokens come
from the in-test authority stand-in, so that bad ones (wrong audience) can be made too. The
same path with the REAL plugin, a real ``jot server`` and a kubeconfig from ``jot kubeconfig``
is in ``test_integration_connectors.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.destination.k8s import K8sStack, k8s_stack

pytestmark = pytest.mark.e2e


def kubectl_binary() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not installed")
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[tuple[K8sStack, Path]]:
    tmp = tmp_path_factory.mktemp("kubectl")
    with k8s_stack(tmp) as s:
        yield s, tmp


def kubeconfig(stack: K8sStack, tmp: Path, token: str, **impersonate: object) -> Path:
    credential = tmp / "exec-credential.json"
    credential.write_text(
        json.dumps(
            {
                "apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential",
                "status": {"token": token},
            }
        )
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "jot",
                "cluster": {
                    "server": stack.proxy_url,
                    "certificate-authority": str(stack.proxy_ca),
                },
            }
        ],
        "users": [
            {
                "name": "jot",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        "command": "cat",
                        "args": [str(credential)],
                        "interactiveMode": "Never",
                    },
                    **impersonate,
                },
            }
        ],
        "contexts": [{"name": "jot", "context": {"cluster": "jot", "user": "jot"}}],
        "current-context": "jot",
    }
    path = tmp / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


def kubectl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cache = str(config.parent / "cache")
    command = [kubectl_binary(), "--kubeconfig", str(config), "--cache-dir", cache, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_kubectl_get_namespaces(stack):
    s, tmp = stack
    config = kubeconfig(s, tmp, s.authority.token(aud="k8s"))
    result = kubectl(config, "get", "namespaces", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["namespace/default", "namespace/kube-system"]
    listed = [seen for seen in s.api.seen if seen.path == "/api/v1/namespaces"]
    assert listed
    for seen in s.api.seen:
        assert seen.all("impersonate-user") == ["alice@example.com"]
        assert seen.all("impersonate-group") == ["ops", "jot:role:admin"]
        assert seen.all("authorization") == [f"Bearer {s.api.token}"]


def test_kubectl_as_group_does_not_change_identity(stack):
    s, tmp = stack
    config = kubeconfig(
        s, tmp, s.authority.token(aud="k8s", name="bob@example.com", groups=["dev"])
    )
    before = len(s.api.seen)
    result = kubectl(
        config, "--as", "admin", "--as-group", "system:masters", "get", "namespaces", "-o", "name"
    )
    assert result.returncode == 0, result.stderr
    new = s.api.seen[before:]
    assert new
    for seen in new:
        assert seen.all("impersonate-user") == ["bob@example.com"]
        assert seen.all("impersonate-group") == ["dev", "jot:role:view"]


def test_kubectl_with_bad_token_is_refused(stack):
    s, tmp = stack
    config = kubeconfig(s, tmp, s.authority.token(aud="web"))
    before = len(s.api.seen)
    result = kubectl(config, "get", "namespaces")
    assert result.returncode != 0
    assert "Unauthorized" in result.stderr or "provide credentials" in result.stderr
    assert len(s.api.seen) == before


def test_kubectl_impersonation_flags_change_nothing(stack):
    # --as-uid and --as-user-extra become Impersonate-Uid and Impersonate-Extra-*: stripped.
    s, tmp = stack
    extra = {"as-user-extra": {"scopes": ["all"]}}
    config = kubeconfig(s, tmp, s.authority.token(aud="k8s"), **extra)
    before = len(s.api.seen)
    result = kubectl(
        config, "--as", "system:kube-controller-manager", "--as-uid", "0",
        "get", "namespaces", "-o", "name",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    new = s.api.seen[before:]
    assert new
    for seen in new:
        assert seen.all("impersonate-user") == ["alice@example.com"]
        assert [k for k, _ in seen.headers if k.startswith("impersonate-")] == [
            "impersonate-user", "impersonate-group", "impersonate-group",
        ]  # fmt: skip


def test_kubectl_as_a_reserved_user_name_is_forbidden(stack):
    # A token naming a Kubernetes component is refused at the proxy: the API server never
    # hears of it.
    s, tmp = stack
    token = s.authority.token(aud="k8s", name="system:kube-controller-manager")
    config = kubeconfig(s, tmp, token)
    before = len(s.api.seen)
    result = kubectl(config, "get", "namespaces")
    assert result.returncode != 0
    assert "Forbidden" in result.stderr or "forbidden" in result.stderr
    assert len(s.api.seen) == before


def test_kubectl_with_namespace_grants_only(stack):
    """erin holds edit in dev and view in staging, nothing cluster-wide: the proxy passes
    her requests with one role group per namespace, which RoleBindings there (and only
    there) bind; whether a cluster-wide list is allowed is RBAC's answer, not the proxy's
    (Infra's connector refused discovery for such users, its #4034)."""
    s, tmp = stack
    token = s.authority.token(aud="k8s", name="erin@example.com", sub="u_erin", groups=["qa"])
    config = kubeconfig(s, tmp, token)
    before = len(s.api.seen)
    pods = kubectl(config, "get", "pods", "-n", "dev", "-o", "name")
    assert pods.returncode == 0, pods.stderr
    assert pods.stdout.split() == ["pod/app-dev"]
    namespaces = kubectl(config, "get", "namespaces", "-o", "name")
    assert namespaces.returncode == 0, namespaces.stderr
    new = s.api.seen[before:]
    assert {seen.path for seen in new} >= {"/api/v1/namespaces/dev/pods", "/api/v1/namespaces"}
    for seen in new:
        assert seen.all("impersonate-user") == ["erin@example.com"]
        assert seen.all("impersonate-group") == [
            "qa", "jot:role:edit:dev", "jot:role:view:dev", "jot:role:view:staging",
        ]  # fmt: skip


def test_kubectl_without_any_grant_here_is_forbidden(stack):
    s, tmp = stack
    config = kubeconfig(s, tmp, s.authority.token(aud="k8s", name="dave@example.com", groups=[]))
    before = len(s.api.seen)
    result = kubectl(config, "get", "pods", "-n", "dev")
    assert result.returncode != 0
    assert "Forbidden" in result.stderr or "forbidden" in result.stderr
    assert len(s.api.seen) == before
