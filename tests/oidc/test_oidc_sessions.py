"""Group sync across logins, and revalidation with the provider's refresh token."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from test_oidc_browser import login

from jot.authority.access import group_names
from jot.authority.clock import to_datetime
from jot.authority.context import load_identity
from jot.authority.credentials import new_id
from jot.authority.models import AccessKey, AuditEvent, Group, Membership
from jot.authority.oidc.models import ProviderSession

KEY_PREFIX = "jot_ak_"


def _key(page: httpx.Response) -> str:
    start = page.text.index(KEY_PREFIX)
    return page.text[start : start + 52]


def _groups(server, name: str) -> list[str]:
    with server.authority.db.transaction(write=False) as session:
        identity = load_identity(session, name)
        assert identity is not None
        return group_names(session, identity.id)


def _add_jot_group(server, name: str, group: str) -> None:
    """A membership managed in jot (not from the provider)."""
    now = to_datetime(server.authority.clock())
    with server.authority.db.transaction() as session:
        identity = load_identity(session, name)
        assert identity is not None
        group_id = new_id()
        session.add(Group(id=group_id, name=group, created=now))
        session.flush()
        session.add(Membership(group_id=group_id, identity_id=identity.id))


def test_groups_follow_the_provider_and_jot_groups_stay(
    server, provider, idp, user, browser
) -> None:
    email = f"{user}@example.com"
    assert login(browser, server, provider, user).status_code == 200
    assert _groups(server, email) == ["dev", "ops"]
    _add_jot_group(server, email, "oncall")
    idp.set_user(user, email=email, groups=["dev", "sre"])
    assert login(browser, server, provider, user).status_code == 200
    # ops left (the provider dropped it), sre came, oncall (managed in jot) stayed.
    assert _groups(server, email) == ["dev", "oncall", "sre"]
    idp.set_user(user, email=email)  # No groups claim at all: all provider groups go.
    assert login(browser, server, provider, user).status_code == 200
    assert _groups(server, email) == ["oncall"]


def _setup_destination(server, email: str) -> None:
    with server.api() as api:
        assert (
            api.post("/api/destinations", json={"name": "web", "kind": "http"}).status_code == 201
        )
        grant = {"subject": f"user:{email}", "role": "viewer", "resource": "web"}
        assert api.post("/api/grants", json=grant).status_code == 201


def _age_session(server, key: str) -> None:
    """Pretend the provider login was last checked three hours ago."""
    key_id = key.split("_")[2]
    old = to_datetime(server.authority.clock()) - timedelta(hours=3)
    with server.authority.db.transaction() as session:
        session.execute(
            update(ProviderSession)
            .where(ProviderSession.access_key_id == key_id)
            .values(last_check=old)
        )


def _token(server, key: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/tokens",
        json={"destination": "web"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def test_revalidation_renews_then_revokes(server, provider, idp, user, browser) -> None:
    email = f"{user}@example.com"
    first = _key(login(browser, server, provider, user))
    second = _key(login(browser, server, provider, user))
    _setup_destination(server, email)
    assert _token(server, first).status_code == 201

    # Older than two hours: the refresh token is used, the provider agrees, groups re-synced.
    idp.set_user(user, email=email, groups=["dev"])
    _age_session(server, first)
    assert _token(server, first).status_code == 201
    assert _groups(server, email) == ["dev"]

    # The provider removes the user: the next revalidation revokes every key from it.
    idp.revoke(user)
    _age_session(server, first)
    refused = _token(server, first)
    assert refused.status_code == 401
    message = refused.json()["message"]
    assert f"your login through {provider} is no longer valid" in message
    assert "invalid_grant" in message
    assert _token(server, second).status_code == 401  # Revoked too, though not yet stale.
    with server.authority.db.transaction(write=False) as session:
        keys = session.scalars(select(AccessKey).where(AccessKey.name == f"oidc:{provider}"))
        assert all(key.revoked is not None for key in keys)
        event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "oidc.revoked")).one()
        assert len(json.loads(event.detail)["access_keys"]) == 2
    # The admin's own key (not from a provider) is untouched.
    assert (
        httpx.get(
            f"{server.url}/api/whoami", headers={"Authorization": f"Bearer {server.admin_key}"}
        ).status_code
        == 200
    )


def test_fresh_session_is_not_revalidated(server, provider, idp, user, browser) -> None:
    email = f"{user}@example.com"
    key = _key(login(browser, server, provider, user))
    _setup_destination(server, email)
    idp.revoke(user)  # Within the period, jot does not ask the provider.
    assert _token(server, key).status_code == 201


def test_every_step_is_audited(server, provider, user, browser) -> None:
    login(browser, server, provider, user)
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"}
    ) as api:
        kinds = [e["kind"] for e in api.get("/api/audit", params={"kind": "oidc."}).json()["items"]]
    assert kinds == ["oidc.login.ok", "oidc.login.started"]
