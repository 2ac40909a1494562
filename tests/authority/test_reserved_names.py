"""Kubernetes reserves ``system:`` user names for its own components: no jot identity may be
named so, whether an admin creates it (user or machine) or a provider's login would."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from jot.api.identities import is_reserved_name
from jot.authority.oidc.accounts import account_from_claims
from jot.authority.oidc.errors import LoginRefused
from jot.authority.oidc.models import Provider

pytestmark = pytest.mark.anyio

RESERVED = ["system:kube-controller-manager", "system:node:worker-1", "System:Masters@x.org"]


@pytest.mark.parametrize("name", RESERVED)
@pytest.mark.parametrize("kind", ["user", "machine"])
async def test_admin_cannot_create_a_reserved_name(
    admin: httpx.AsyncClient, name: str, kind: str
) -> None:
    response = await admin.post("/api/users", json={"name": name, "kind": kind})
    assert response.status_code == 400, response.text
    assert "reserved" in response.json()["message"]
    listed = (await admin.get("/api/users")).json()["items"]
    assert name not in [identity["name"] for identity in listed]


async def test_an_identity_cannot_be_renamed_to_a_reserved_name(admin: httpx.AsyncClient) -> None:
    assert (
        await admin.post("/api/users", json={"name": "ci", "kind": "machine"})
    ).status_code == 201
    response = await admin.patch("/api/users/ci", json={"name": "system:kube-scheduler"})
    assert response.status_code == 400, response.text
    assert (await admin.get("/api/users/ci")).status_code == 200


async def test_names_that_only_contain_system_are_fine(admin: httpx.AsyncClient) -> None:
    for name in ("ops-system:x", "systems@example.com", "my.system:1"):
        assert not is_reserved_name(name)
        response = await admin.post("/api/users", json={"name": name, "kind": "machine"})
        assert response.status_code == 201, response.text


def _provider() -> Provider:
    now = datetime.now(UTC)
    return Provider(
        id="p1", name="idp", issuer="https://idp.example", client_id="c", scopes="[]",
        email_claim="email", name_claim="name", groups_claim="groups", allowed_domains="[]",
        revalidate_after=0, created=now, updated=now,
    )  # fmt: skip


def test_a_provider_login_with_a_reserved_name_is_refused() -> None:
    provider = _provider()
    ok = account_from_claims(provider, {"sub": "1", "email": "Alice@Example.com"})
    assert ok.email == "alice@example.com"
    with pytest.raises(LoginRefused) as refused:
        account_from_claims(provider, {"sub": "2", "email": "system:kube-proxy@example.com"})
    assert refused.value.reason == "reserved_name"


@pytest.mark.parametrize("end", ["\n", "\r\n", "\x00", " "])
def test_a_provider_name_with_a_trailing_control_character_is_refused(end: str) -> None:
    # A name travels in headers (X-Jot-User, X-Jot-Groups, Impersonate-User): a line break at
    # its end must not slip through a pattern that "$" ends (it matches before a final "\n").
    provider = _provider()
    with pytest.raises(LoginRefused) as refused:
        account_from_claims(provider, {"sub": "1", "email": f"alice@example.com{end}"})
    assert refused.value.reason == "no_email"
    claims = {"sub": "2", "email": "bob@example.com", "groups": ["devs", f"ops{end}"]}
    account = account_from_claims(provider, claims)
    assert account.groups == ("devs",)
    assert account.ignored_groups == (f"ops{end}",)
