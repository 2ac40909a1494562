"""Issue 11's attack stories against a real provider: access ends when its source ends, an
address handed on gets nothing of the old holder, an unverified address takes over nothing."""

from __future__ import annotations

import secrets

import httpx
from sqlalchemy import select
from test_oidc_browser import login
from test_oidc_sessions import _age_session, _key, _setup_destination, _token

from jot.authority.context import load_identity
from jot.authority.models import AccessKey, AuditEvent
from jot.authority.oidc.models import ProviderLink


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _failures(server) -> list[str]:
    with server.authority.db.transaction(write=False) as session:
        stmt = select(AuditEvent.detail).where(AuditEvent.kind == "oidc.login.failed")
        return list(session.scalars(stmt))


def _address(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@example.com"


def test_an_offboarded_users_self_made_key_stops_working(
    server, provider, idp, user, browser
) -> None:
    email = f"{user}@example.com"
    session_key = _key(login(browser, server, provider, user))
    _setup_destination(server, email)
    made = httpx.post(
        f"{server.url}/api/access-keys",
        json={"identity": email, "name": "laptop", "ttl": 0},
        headers=_bearer(session_key),
    )
    assert made.status_code == 201, made.text
    own_key = made.json()["access_key"]
    assert made.json()["key"]["expires"] is not None  # Not "never": the login's expiry.
    assert _token(server, own_key).status_code == 201

    # Offboarded: the provider refuses the refresh. The self-made key is the one used.
    idp.revoke(user)
    _age_session(server, session_key)
    refused = _token(server, own_key)
    assert refused.status_code == 401
    assert "no longer valid" in refused.json()["message"]
    for key in (own_key, session_key):
        assert httpx.get(f"{server.url}/api/whoami", headers=_bearer(key)).status_code == 401
    with server.authority.db.transaction(write=False) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "oidc.revoked")).one()
        assert made.json()["key"]["id"] in event.detail


def test_a_renamed_persons_address_reused_by_a_new_sub_gets_nothing(
    server, provider, idp, browser
) -> None:
    first, second = f"a{secrets.token_hex(4)}", f"b{secrets.token_hex(4)}"
    shared, moved = _address("shared"), _address("moved")
    idp.set_user(first, email=shared, email_verified=True)
    assert login(browser, server, provider, first).status_code == 200
    _setup_destination(server, shared)
    with server.api() as api:
        grant = {"subject": f"user:{shared}", "role": "admin", "resource": "jot"}
        assert api.post("/api/grants", json=grant).status_code == 201

    # The provider renames the person; their next login carries the grants to the new name.
    idp.set_user(first, email=moved, email_verified=True)
    assert login(browser, server, provider, first).status_code == 200
    with server.api() as api:
        subjects = {g["subject"] for g in api.get("/api/grants").json()["items"]}
    assert f"user:{moved}" in subjects
    assert f"user:{shared}" not in subjects

    # A new person (another sub) gets the old address: a new identity, with nothing.
    idp.set_user(second, email=shared, email_verified=True)
    key = _key(login(browser, server, provider, second))
    assert _token(server, key).status_code == 403
    whoami = httpx.get(f"{server.url}/api/whoami", headers=_bearer(key)).json()
    assert whoami["roles"] == []
    assert whoami["name"] == shared


def test_an_address_the_provider_gave_someone_else_takes_over_nothing(
    server, provider, idp, browser
) -> None:
    """The old holder has not logged in since the provider renamed them, so jot still knows
    them by the address; a login with a new sub must not become them."""
    first, second = f"a{secrets.token_hex(4)}", f"b{secrets.token_hex(4)}"
    shared = _address("shared")
    idp.set_user(first, email=shared, email_verified=True)
    assert login(browser, server, provider, first).status_code == 200
    idp.set_user(first, email=_address("moved"), email_verified=True)
    idp.set_user(second, email=shared, email_verified=True)
    page = login(browser, server, provider, second)
    assert page.status_code == 400
    assert "belongs to another mock login" in page.text
    assert any("address_reassigned" in detail for detail in _failures(server))
    with server.authority.db.transaction(write=False) as session:
        identity = load_identity(session, shared)
        assert identity is not None
        links = session.scalars(
            select(ProviderLink.subject).where(ProviderLink.identity_id == identity.id)
        )
        assert list(links) == [first]


def test_an_unverified_address_cannot_take_over_a_password_account(
    server, provider, idp, browser
) -> None:
    bob = _address("bob")
    with server.api() as api:
        created = api.post("/api/users", json={"name": bob, "password": "bobs password"})
        assert created.status_code == 201
    mallory = f"m{secrets.token_hex(4)}"
    for claims in ({}, {"email_verified": False}, {"email_verified": "true"}):
        idp.set_user(mallory, email=bob, **claims)
        page = login(browser, server, provider, mallory)
        assert page.status_code == 400, claims
        assert "verified" in page.text
    assert sum("email_unverified" in detail for detail in _failures(server)) == 3
    with server.authority.db.transaction(write=False) as session:
        assert session.scalars(select(ProviderLink)).first() is None
        assert (
            session.scalars(select(AccessKey.id).where(AccessKey.name.like("oidc:%"))).all() == []
        )

    # A verified address links: one account, logged in through the provider.
    idp.set_user(mallory, email=bob, email_verified=True)
    key = _key(login(browser, server, provider, mallory))
    whoami = httpx.get(f"{server.url}/api/whoami", headers=_bearer(key)).json()
    assert whoami["id"] == created.json()["id"]


def test_a_provider_trusted_to_verify_every_address_links_without_the_claim(
    server, provider, idp, browser
) -> None:
    """Also issue 15.11: the password user BOB@Example.com and the provider's
    bob@example.com are one person."""
    local = _address("Bob")
    shown = local.split("@")[0].upper() + "@Example.com"
    with server.api() as api:
        created = api.post("/api/users", json={"name": shown, "password": "bobs password"})
        assert created.status_code == 201
        trusted = api.patch(f"/api/providers/{provider}", json={"verifies_email": True})
        assert trusted.json()["verifies_email"] is True
    sub = f"s{secrets.token_hex(4)}"
    idp.set_user(sub, email=local.lower())
    page = login(browser, server, provider, sub)
    assert page.status_code == 200, page.text
    whoami = httpx.get(f"{server.url}/api/whoami", headers=_bearer(_key(page))).json()
    assert whoami["id"] == created.json()["id"]
    assert whoami["name"] == shown  # Kept as the admin wrote it.
