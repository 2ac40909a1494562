from __future__ import annotations

import json
import ssl

import httpx
import pytest

from jot.destination.settings import KubernetesNames
from jot.destination.tls import write_self_signed
from jot.destination.verifier import AsyncVerifier
from jot.destination.webhook import API_VERSION, API_VERSIONS, TokenReviewApp

from .authority import ACCESS_KEY, FakeAuthority
from .servers import jot_process

pytestmark = pytest.mark.anyio


@pytest.fixture
def authority() -> FakeAuthority:
    a = FakeAuthority()
    a.set_grants([("group:ops", "admin", "k8s")])
    return a


def review_body(token: str, audiences: list[str] | None = None) -> dict:
    spec: dict = {"token": token}
    if audiences is not None:
        spec["audiences"] = audiences
    return {"apiVersion": API_VERSION, "kind": "TokenReview", "spec": spec}


def webhook_client(authority: FakeAuthority) -> httpx.AsyncClient:
    verifier = AsyncVerifier(
        authority.issuer, audience="k8s", access_key=ACCESS_KEY, http=authority.async_client()
    )
    app = TokenReviewApp(verifier, names=KubernetesNames(group_prefix="jot:"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://webhook")


async def test_token_review_authenticated(authority):
    async with webhook_client(authority) as client:
        response = await client.post("/", json=review_body(authority.token(aud="k8s")))
    assert response.status_code == 200
    assert response.json() == {
        "apiVersion": API_VERSION,
        "kind": "TokenReview",
        "status": {
            "authenticated": True,
            "user": {
                "username": "alice@example.com",
                "uid": "u_alice",
                "groups": ["jot:ops", "jot:role:admin"],
            },
        },
    }


async def test_token_review_audiences(authority):
    async with webhook_client(authority) as client:
        token = authority.token(aud="k8s")
        ok = (await client.post("/", json=review_body(token, ["k8s", "other"]))).json()
        assert ok["status"]["authenticated"] is True
        assert ok["status"]["audiences"] == ["k8s"]
        other = (await client.post("/", json=review_body(token, ["api"]))).json()
        assert other["status"]["authenticated"] is False


@pytest.mark.parametrize(
    "token_args",
    [{"aud": "web"}, {"aud": "k8s", "exp": 1}, {"aud": "k8s", "groups": ["dev"]}],
    ids=["audience", "expired", "no-grant"],
)
async def test_token_review_refused(authority, token_args):
    async with webhook_client(authority) as client:
        response = await client.post("/", json=review_body(authority.token(**token_args)))
    status = response.json()["status"]
    assert status["authenticated"] is False
    assert status["error"]
    assert "user" not in status


async def test_bad_requests(authority):
    async with webhook_client(authority) as client:
        assert (await client.get("/")).status_code == 405
        assert (await client.post("/", content=b"not json")).status_code == 400
        assert (await client.post("/", json={"kind": "Pod"})).status_code == 400
        assert (await client.post("/", content=b"x" * 100_000)).status_code == 400
        empty = await client.post(
            "/", json={"apiVersion": API_VERSION, "kind": "TokenReview", "spec": {}}
        )
        assert empty.json()["status"] == {"authenticated": False, "error": "no token"}
        assert (await client.get("/healthz")).status_code == 200


def test_webhook_command_offline_mode(tmp_path, authority):
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [authority.signing_key.public().to_dict()]}))
    grants = tmp_path / "grants.yaml"
    grants.write_text("grants:\n  - {subject: 'group:ops', role: admin, resource: k8s}\n")
    cert, key = write_self_signed(["127.0.0.1"], str(tmp_path))
    args = [
        "connector", "webhook", "--issuer", authority.issuer, "--jwks-file", str(jwks),
        "--grants-file", str(grants), "--name", "k8s", "--listen", "127.0.0.1:0",
        "--tls-cert", str(cert), "--tls-key", str(key),
    ]  # fmt: skip
    with jot_process(*args) as url:
        verify = ssl.create_default_context(cafile=cert)
        response = httpx.post(url, json=review_body(authority.token(aud="k8s")), verify=verify)
    assert response.json()["status"]["user"]["groups"] == ["ops", "jot:role:admin"]


async def test_v1beta1_is_answered_in_v1beta1(authority):
    body = {**review_body(authority.token(aud="k8s")), "apiVersion": API_VERSIONS[1]}
    async with webhook_client(authority) as client:
        answer = (await client.post("/", json=body)).json()
    assert answer["apiVersion"] == "authentication.k8s.io/v1beta1"
    assert answer["status"]["authenticated"] is True


@pytest.mark.parametrize(
    "version", ["authentication.k8s.io/v2", "v1", None, 5, ["authentication.k8s.io/v1"]]
)
async def test_other_api_versions_are_not_authenticated(authority, version):
    body = {**review_body(authority.token(aud="k8s")), "apiVersion": version}
    async with webhook_client(authority) as client:
        response = await client.post("/", json=body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["apiVersion"] == API_VERSION
    assert answer["kind"] == "TokenReview"
    assert answer["status"]["authenticated"] is False
    assert "unsupported apiVersion" in answer["status"]["error"]
    assert "user" not in answer["status"]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 30_000 + b"]" * 30_000,  # 60 KB of nesting: a RecursionError before
        b'{"kind":"TokenReview","spec":' * 2_000 + b"{}" + b"}" * 2_000,
        b'{"kind":"TokenReview","kind":"TokenReview","apiVersion":"authentication.k8s.io/v1"}',
        b'{"kind":"TokenReview","spec":{"token":NaN}}',
        b"\xff\xfe{}",
    ],
    ids=["nested-arrays", "nested-objects", "duplicate-member", "nan", "not-utf8"],
)
async def test_malformed_bodies_are_400(authority, body):
    async with webhook_client(authority) as client:
        response = await client.post("/", content=body)
    assert response.status_code == 400
    assert response.json() == {"error": "expected a TokenReview object"}


@pytest.mark.parametrize("claims", [{"name": "system:kube-scheduler"}, {"sub": "system:node:x"}])
async def test_reserved_names_are_not_authenticated(authority, claims):
    async with webhook_client(authority) as client:
        response = await client.post("/", json=review_body(authority.token(aud="k8s", **claims)))
    assert response.json()["status"] == {"authenticated": False, "error": "reserved user name"}


async def test_token_review_namespace_grants(authority):
    """Issue 19 item 1: a grant on k8s.<namespace> becomes jot:role:<role>:<namespace>, which
    a RoleBinding in that namespace binds; namespace-only grants are enough to authenticate."""
    authority.set_grants(
        [
            ("group:ops", "admin", "k8s"),
            ("group:ops", "edit", "k8s.dev"),
            ("user:carol@example.com", "view", "k8s.staging"),
            ("user:carol@example.com", "view", "k8s.staging.deeper"),
        ]
    )
    async with webhook_client(authority) as client:
        alice = (await client.post("/", json=review_body(authority.token(aud="k8s")))).json()
        carol_token = authority.token(aud="k8s", name="carol@example.com", groups=[])
        carol = (await client.post("/", json=review_body(carol_token))).json()
    assert alice["status"]["user"]["groups"] == ["jot:ops", "jot:role:admin", "jot:role:edit:dev"]
    assert carol["status"]["authenticated"] is True
    assert carol["status"]["user"]["groups"] == ["jot:role:view:staging"]
