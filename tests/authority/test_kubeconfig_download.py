"""A Kubernetes destination's cluster (``--cluster-server``, ``--cluster-ca``), read through
``GET /api/clusters/{name}`` by whoever may have its tokens, and the kubeconfig "My access"
offers for it, read by the real kubectl."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jot.authority.app import Started

from .conftest import ISSUER, bearer
from .pages import person, signed_in

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"
PROXY = "https://k8s-proxy.example:8443"


def _ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "proxy CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM).decode()


CA = _ca_pem()


@pytest.fixture
async def world(admin: httpx.AsyncClient, admin_key: str) -> httpx.AsyncClient:
    body = {"name": "k8s", "kind": "kubernetes", "cluster_server": PROXY, "cluster_ca": CA}
    assert (await admin.post("/api/destinations", json=body)).status_code == 201
    assert (await admin.post("/api/destinations", json={"name": "web"})).status_code == 201
    for name in ("alice", "bob"):
        await person(admin, admin_key, name, PASSWORD)
    for resource in ("k8s.dev", "web"):  # A namespace grant is enough for the cluster.
        grant = {"subject": "user:alice", "role": "edit", "resource": resource}
        assert (await admin.post("/api/grants", json=grant)).status_code == 201
    return admin


async def _key(admin: httpx.AsyncClient, name: str) -> dict[str, str]:
    made = await admin.post("/api/access-keys", json={"identity": name})
    return bearer(made.json()["access_key"])


async def test_a_grant_holder_reads_the_cluster_and_nobody_else(world: httpx.AsyncClient):
    alice, bob = await _key(world, "alice"), await _key(world, "bob")
    found = await world.get("/api/clusters/k8s", headers=alice)
    assert found.status_code == 200, found.text
    assert found.json() == {
        "destination": "k8s",
        "server": PROXY,
        "certificate_authority_data": base64.b64encode(CA.encode()).decode(),
    }
    refused = await world.get("/api/clusters/k8s", headers=bob)
    assert refused.status_code == 403  # The token endpoint's answer to bob.
    assert PROXY not in refused.text
    assert (await world.get("/api/clusters/web", headers=alice)).status_code == 404
    mine = (await world.get("/api/my-access", headers=alice)).json()["items"]
    assert {i["destination"]: i["cluster_server"] for i in mine} == {"k8s": PROXY, "web": None}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "h", "cluster_server": PROXY}, "only a destination of kind 'kubernetes'"),
        ({"name": "k", "kind": "kubernetes", "cluster_ca": CA}, "cluster_ca needs cluster_server"),
        (
            {"name": "k", "kind": "kubernetes", "cluster_server": PROXY, "cluster_ca": "x"},
            "cluster_ca: not PEM certificates",
        ),
        ({"name": "k", "kind": "kubernetes", "cluster_server": "ftp://x"}, "cluster_server"),
        ({"name": "k", "kind": "kubernetes", "cluster_server": "https://u@x"}, "cluster_server"),
    ],
)
async def test_a_bad_cluster_is_refused_in_one_line(
    world: httpx.AsyncClient, body: dict, message: str
) -> None:
    refused = await world.post("/api/destinations", json=body)
    assert refused.status_code == 400
    assert message in refused.json()["message"]
    assert (await world.get(f"/api/destinations/{body['name']}")).status_code == 404


async def test_an_update_moves_or_forgets_the_cluster(world: httpx.AsyncClient) -> None:
    alice = await _key(world, "alice")
    moved = await world.patch("/api/destinations/k8s", json={"cluster_server": "https://new"})
    assert (moved.json()["cluster_server"], moved.json()["cluster_ca"]) == ("https://new", CA)
    assert (await world.get("/api/clusters/k8s", headers=alice)).json()["server"] == "https://new"
    gone = await world.patch("/api/destinations/k8s", json={"remove_cluster": True})
    assert (gone.json()["cluster_server"], gone.json()["cluster_ca"]) == (None, None)
    assert (await world.get("/api/clusters/k8s", headers=alice)).status_code == 404


def _kubectl(config: Path) -> dict:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is not installed"
    shown = subprocess.run(
        [kubectl, "config", "view", "--kubeconfig", str(config), "--raw", "-o", "json"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout))


async def test_my_access_offers_a_kubeconfig_that_kubectl_reads(
    world: httpx.AsyncClient, started: Started, tmp_path: Path
) -> None:
    browser = await signed_in(started, "alice", PASSWORD)
    page = await browser.get("/")
    assert 'href="/kubeconfig?destination=k8s"' in page.text
    assert "/kubeconfig?destination=web" not in page.text  # Not a Kubernetes destination.
    download = await browser.get("/kubeconfig", params={"destination": "k8s"})
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="jot-k8s.kubeconfig"'
    assert "frame-ancestors 'none'" in download.headers["content-security-policy"]
    path = tmp_path / "jot-k8s.kubeconfig"
    path.write_bytes(download.content)
    config = _kubectl(path)
    assert config["current-context"] == "jot-k8s"
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"] == PROXY
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode() == CA
    (user,) = config["users"]
    plugin = user["user"]["exec"]
    assert (plugin["apiVersion"], plugin["command"]) == ("client.authentication.k8s.io/v1", "jot")
    assert plugin["args"] == [
        "token", "--for", "k8s", "--format", "exec-credential", "--server", ISSUER,
    ]  # fmt: skip
    await browser.aclose()


async def test_no_kubeconfig_for_who_may_not_have_tokens(
    world: httpx.AsyncClient, started: Started
) -> None:
    browser = await signed_in(started, "bob", PASSWORD)
    refused = await browser.get("/kubeconfig", params={"destination": "k8s"})
    assert refused.status_code == 403
    assert PROXY not in refused.text
    assert "content-disposition" not in refused.headers
    del world.headers["Authorization"]  # A browser signed in as nobody.
    anonymous = await world.get("/kubeconfig", params={"destination": "k8s"})
    assert (anonymous.status_code, anonymous.headers["location"]) == (
        303, "/sign-in?next=/kubeconfig%3Fdestination%3Dk8s"
    )  # fmt: skip
    await browser.aclose()
