"""Every bad input of issue 6: refused with a clear page, no user created, nothing half-written.

Token-level attacks come from a provider that misbehaves on request (``hostile_idp``); state
and replay attacks use the real mock provider.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from hostile_idp import Hostile, hostile_idp
from sqlalchemy import func, select

from jot.authority.models import AccessKey, AuditEvent, Identity
from jot.authority.oidc.models import ProviderLink, ProviderSession


@pytest.fixture
def hostile(server) -> Iterator[Hostile]:
    with hostile_idp() as idp, server.api() as api:
        body = {
            "name": "evil",
            "issuer": idp.issuer,
            "client_id": idp.client_id,
            "client_secret": "x",
        }
        assert api.post("/api/providers", json=body).status_code == 201
        yield idp


def _nothing_written(server) -> None:
    with server.authority.db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Identity)) == 1  # The admin only.
        assert session.scalar(select(func.count()).select_from(AccessKey)) == 1
        assert session.scalar(select(func.count()).select_from(ProviderLink)) == 0
        assert session.scalar(select(func.count()).select_from(ProviderSession)) == 0


def _last_failure(server) -> dict[str, str]:
    with server.authority.db.transaction(write=False) as session:
        row = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.kind == "oidc.login.failed")
            .order_by(AuditEvent.id.desc())
        ).first()
    assert row is not None
    detail: dict[str, str] = json.loads(row.detail)
    return detail


PROVIDER_UNAVAILABLE = "the login provider is not available right now"

BAD_TOKENS = [
    ("wrong_issuer", "wrong_issuer", "issued by another issuer"),
    ("wrong_audience", "wrong_audience", "meant for another client"),
    ("several_audiences", "wrong_azp", "issued to another client (azp)"),
    ("expired", "expired", "has expired"),
    ("stale_iat", "stale", "issued too long ago"),
    ("long_sub", "bad_subject", "empty or too long"),
    ("alg_not_listed", "alg_not_listed", "'ES256', which the provider does not list"),
    ("alg_none", "alg_none", "unsigned (alg none)"),
    ("missing_nonce", "missing_nonce", "carries no nonce"),
    ("replayed_nonce", "bad_nonce", "nonce is not this login's"),
    ("bad_signature", "bad_id_token", "bad_signature"),
    ("token_garbage", "provider_error", "is not JSON"),
    ("token_error", "code_refused", "refused the authorization code (invalid_grant)"),
]


@pytest.mark.parametrize(
    ("mode", "reason", "message"), BAD_TOKENS, ids=[m for m, _, _ in BAD_TOKENS]
)
def test_bad_id_token_refused(server, hostile, browser, mode, reason, message) -> None:
    hostile.mode = mode
    page = browser.get(f"{server.url}/oidc/evil/login")
    assert page.url.path == "/oidc/evil/callback"
    assert page.status_code in (400, 502)
    assert "Login failed" in page.text
    failure = _last_failure(server)
    assert failure["reason"] == reason
    assert message in failure["message"]
    # The person reads the reason too, except for provider failures (see test_provider_down).
    shown = PROVIDER_UNAVAILABLE if reason == "provider_error" else message
    assert shown in page.text.replace("&#x27;", "'")
    _nothing_written(server)


def test_hostile_provider_in_good_mode_logs_in(server, hostile, browser) -> None:
    """The control: the same provider, behaving, is accepted (so the refusals are real)."""
    page = browser.get(f"{server.url}/oidc/evil/login")
    assert page.status_code == 200, page.text
    assert "mallory@example.com" in page.text


DISCOVERY = [
    ("garbage", "is not JSON"),
    ("error", "answered HTTP 500"),
    ("wrong_issuer", "names issuer"),
    ("none_only", "no algorithm jot accepts"),
]


@pytest.mark.parametrize(("mode", "message"), DISCOVERY, ids=[m for m, _ in DISCOVERY])
def test_bad_discovery_refused(server, hostile, browser, mode, message) -> None:
    hostile.discovery_mode = mode
    page = browser.get(f"{server.url}/oidc/evil/login")
    assert page.status_code == 502
    assert PROVIDER_UNAVAILABLE in page.text
    _nothing_written(server)
    assert _last_failure(server)["reason"] == "provider_error"
    assert message in _last_failure(server)["message"]


def test_provider_down(server, hostile, browser) -> None:
    """A refused connection and a 404 look the same to the visitor (no port scanner); the
    audit log tells them apart."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with server.api() as api:
        body = {"name": "down", "issuer": closed, "client_id": "c"}
        assert api.post("/api/providers", json=body).status_code == 201
    down = browser.get(f"{server.url}/oidc/down/login")
    assert "cannot reach the provider" in _last_failure(server)["message"]
    hostile.discovery_mode = "not_found"
    missing = browser.get(f"{server.url}/oidc/evil/login")
    assert "answered HTTP 404" in _last_failure(server)["message"]
    assert down.status_code == missing.status_code == 502
    assert down.text == missing.text
    assert PROVIDER_UNAVAILABLE in down.text
    _nothing_written(server)


@pytest.mark.parametrize(
    "issuer", ["http://idp.invalid", "http://idp.invalid:8080/realm", "ftp://127.0.0.1/x"]
)
def test_provider_must_be_https_off_loopback(server, browser, issuer) -> None:
    with server.api() as api:
        body = {"name": "plain", "issuer": issuer, "client_id": "c"}
        assert api.post("/api/providers", json=body).status_code in (201, 400)
    page = browser.get(f"{server.url}/oidc/plain/login")
    assert page.status_code in (404, 502)
    if page.status_code == 502:
        assert "is not https" in _last_failure(server)["message"]


def _callback(browser: httpx.Client, server, provider: str, sub: str) -> httpx.URL:
    """Log in at the mock up to (not including) the redirect back to jot."""
    form = browser.get(f"{server.url}/oidc/{provider}/login")
    answer = browser.post(str(form.url), data={"sub": sub}, follow_redirects=False)
    assert answer.status_code == 302
    return httpx.URL(answer.headers["location"])


def test_wrong_state(server, provider, user, browser) -> None:
    target = _callback(browser, server, provider, user)
    page = browser.get(target.copy_set_param("state", "forged"))
    assert page.status_code == 400
    assert "wrong state" in page.text
    _nothing_written(server)
    assert _last_failure(server)["reason"] == "bad_state"


def test_missing_state(server, provider, user, browser) -> None:
    target = _callback(browser, server, provider, user)
    page = browser.get(target.copy_remove_param("state"))
    assert page.status_code == 400
    assert "no state" in page.text
    _nothing_written(server)


def test_callback_from_another_browser(server, provider, user, browser) -> None:
    target = _callback(browser, server, provider, user)
    with httpx.Client(timeout=10) as other:
        page = other.get(target)
    assert page.status_code == 400
    assert "another browser" in page.text
    _nothing_written(server)
    # The attempt is burnt: the right browser cannot use it afterwards either.
    assert "already used" in browser.get(target).text


def test_replayed_callback(server, provider, user, browser) -> None:
    target = _callback(browser, server, provider, user)
    assert browser.get(target).status_code == 200
    replay = browser.get(target)
    assert replay.status_code == 400
    assert "already used" in replay.text


def test_unknown_provider(server, browser) -> None:
    page = browser.get(f"{server.url}/oidc/nope/login")
    assert page.status_code == 404
    assert "no login provider named 'nope'" in page.text.replace("&#x27;", "'")


def test_provider_denies(server, provider, browser) -> None:
    form = browser.get(f"{server.url}/oidc/{provider}/login")
    page = browser.post(str(form.url), data={"action": "deny"})
    assert page.status_code == 400
    assert "refused the login (access_denied)" in page.text
    _nothing_written(server)
