"""Input and output hygiene of the authority (issue 11 items 8, 9, 12-14): security headers on
every answer, bounded JSON on every route, no control characters stored, metrics behind a
credential with real route labels, and /docs without a CDN."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Route as StarletteRoute

from jot.authority import logs, routes
from jot.authority.app import create_app, open_authority
from jot.authority.settings import Settings
from jot.authority.web.routes import PAGES

from .conftest import ISSUER, bearer

pytestmark = pytest.mark.anyio

DEEP = [b"[" * 3000, b'{"a":' * 3000, b"[" * 3000 + b"]" * 3000]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jot.db'}"


@pytest.fixture
def app(started) -> FastAPI:
    return create_app(authority=started.authority)


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
        yield http


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


#: The web console's pages: they send a Referer to their own origin (their forms' CSRF
#: check reads the Origin, which no-referrer would blank), and send strangers to sign in.
CONSOLE = {_concrete(_page.path) for _page in PAGES}


def _every_route(app: FastAPI) -> list[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if isinstance(route, APIRoute | StarletteRoute):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, _concrete(route.path)))
    return sorted(found)


def _routes_with_bodies(app: FastAPI) -> list[tuple[str, str]]:
    """Every route that reads a request body: typed ones (FastAPI parses them), the lean
    token route and the raw routes that parse their own (forms, device polls)."""
    raw = {endpoint for method, _, endpoint, _ in routes.RAW_ROUTES if method == "POST"}
    found = set()
    for route in app.routes:
        reads = (
            isinstance(route, APIRoute) and (route.body_field is not None or route.endpoint in raw)
        ) or (isinstance(route, StarletteRoute) and not isinstance(route, APIRoute))
        for method in (route.methods or ()) if reads else ():  # type: ignore[attr-defined]
            if method in ("POST", "PATCH", "PUT"):
                found.add((method, _concrete(route.path)))  # type: ignore[attr-defined]
    return sorted(found)


def _check_headers(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} → {response.status_code}"
    assert response.headers.get("x-content-type-options") == "nosniff", where
    path = response.request.url.path
    # The console's pages, and the sign-out confirmation page (not the answer to its post).
    page = path in CONSOLE or (path == "/oidc/logout" and response.request.method == "GET")
    policy = "same-origin" if page else "no-referrer"
    assert response.headers.get_list("referrer-policy") == [policy], where
    assert "server" not in response.headers, where
    if response.headers.get("content-type", "").startswith("text/html"):
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, where
        assert "default-src 'none'" in policy, where
        assert "unsafe-inline" not in policy, where


async def test_every_answer_carries_the_security_headers(
    app: FastAPI, anonymous: httpx.AsyncClient, admin_key: str
) -> None:
    admin = bearer(admin_key)
    for method, path in _every_route(app):
        for headers in ({}, admin):
            response = await anonymous.request(method, path, headers=headers, json={})
            _check_headers(response)
    for response in (
        await anonymous.get("/nothing-here"),
        await anonymous.delete("/healthz"),
        await anonymous.post("/api/users", content=b"x" * 70000, headers=admin),
        await anonymous.get("/oidc/device"),
    ):
        _check_headers(response)


async def test_secrets_and_personal_answers_are_never_cached(
    anonymous: httpx.AsyncClient, admin_key: str
) -> None:
    admin = bearer(admin_key)
    user = {"name": "alice@example.com", "password": "correct horse"}
    assert (await anonymous.post("/api/users", json=user, headers=admin)).status_code == 201
    login = await anonymous.post("/api/login", json=user)
    made = await anonymous.post(
        "/api/access-keys", json={"identity": "alice@example.com"}, headers=admin
    )
    assert (
        await anonymous.post("/api/destinations", json={"name": "web"}, headers=admin)
    ).is_success
    grant = {"subject": "user:admin", "role": "viewer", "resource": "web"}
    assert (await anonymous.post("/api/grants", json=grant, headers=admin)).is_success
    tokens = [
        await anonymous.post("/api/tokens", json={"destination": "web"}, headers=admin)
        for _ in range(3)  # The first goes the long way, the next ones the lean path.
    ]
    for response in (login, made, *tokens, await anonymous.get("/api/whoami", headers=admin)):
        assert response.is_success, response.text
        assert response.headers["cache-control"] == "no-store"
        _check_headers(response)
    jwks = await anonymous.get("/.well-known/jwks.json")
    assert jwks.headers["cache-control"].startswith("public")  # Its own policy stays.
    _check_headers(jwks)


async def test_an_unexpected_error_still_carries_the_headers(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom", boom)
    response = await anonymous.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"error": "internal", "message": "internal error"}
    _check_headers(response)


async def test_every_malformed_body_is_a_4xx(
    app: FastAPI, anonymous: httpx.AsyncClient, admin_key: str
) -> None:
    posts = _routes_with_bodies(app)
    assert len(posts) > 15
    for method, path in posts:
        for body in DEEP:
            for kind in ("application/json", "application/x-www-form-urlencoded"):
                headers = {**bearer(admin_key), "content-type": kind}
                response = await anonymous.request(method, path, content=body, headers=headers)
                if path in CONSOLE and response.status_code == 303:  # Nobody signed in.
                    assert response.headers["location"] == "/sign-in"
                    continue
                assert 400 <= response.status_code < 500, (method, path, response.text[:200])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/access-keys", {"identity": "admin", "name": "laptop\x1b[2J"}),
        ("/api/access-keys", {"identity": "admin", "name": "nul\x00byte"}),
        ("/api/grants", {"subject": "user:admin", "role": "view", "resource": "jot.\x1b[31m"}),
        ("/api/grants", {"subject": "user:admin", "role": "view", "resource": "jot.a\x00"}),
        ("/api/users", {"name": "bob\x1b"}),
        ("/api/providers", {"name": "p", "issuer": "https://idp\x00.test", "client_id": "c"}),
        ("/api/providers", {"name": "p", "issuer": "https://idp.test", "client_id": "c\x9b1m"}),
    ],
)
async def test_control_characters_are_refused(
    anonymous: httpx.AsyncClient, admin_key: str, path: str, body: dict[str, str]
) -> None:
    response = await anonymous.post(path, json=body, headers=bearer(admin_key))
    assert response.status_code == 400, response.text


async def test_printable_labels_are_kept(anonymous: httpx.AsyncClient, admin_key: str) -> None:
    made = await anonymous.post(
        "/api/access-keys",
        json={"identity": "admin", "name": "Zoë's laptop (office)"},
        headers=bearer(admin_key),
    )
    assert made.status_code == 201
    assert made.json()["key"]["name"] == "Zoë's laptop (office)"


async def _metric_reader(anonymous: httpx.AsyncClient, admin_key: str) -> dict[str, str]:
    """A machine identity holding only the ``metrics`` role on jot."""
    admin = bearer(admin_key)
    made = await anonymous.post(
        "/api/users", json={"name": "prometheus", "kind": "machine"}, headers=admin
    )
    assert made.status_code == 201, made.text
    grant = {"subject": "user:prometheus", "role": "metrics", "resource": "jot"}
    assert (await anonymous.post("/api/grants", json=grant, headers=admin)).is_success
    key = await anonymous.post("/api/access-keys", json={"identity": "prometheus"}, headers=admin)
    return bearer(key.json()["access_key"])


async def test_metrics_need_a_credential_and_label_every_route(
    anonymous: httpx.AsyncClient, admin_key: str
) -> None:
    admin = bearer(admin_key)
    scraper = await _metric_reader(anonymous, admin_key)
    assert (
        await anonymous.post("/api/destinations", json={"name": "secret-db"}, headers=admin)
    ).is_success
    grant = {"subject": "user:admin", "role": "viewer", "resource": "secret-db"}
    assert (await anonymous.post("/api/grants", json=grant, headers=admin)).is_success
    for _ in range(3):
        token = await anonymous.post(
            "/api/tokens", json={"destination": "secret-db"}, headers=admin
        )
        assert token.status_code == 201
        assert (await anonymous.get("/.well-known/jwks.json")).status_code == 200

    hidden = await anonymous.get("/metrics")
    assert hidden.status_code == 401
    assert "secret-db" not in hidden.text
    assert "python" not in hidden.text
    # The scraper reads the metrics and nothing else.
    assert (await anonymous.get("/api/users", headers=scraper)).status_code == 403
    text = (await anonymous.get("/metrics", headers=scraper)).text
    assert 'route="/api/tokens",status="201"' in text
    assert 'route="/.well-known/jwks.json",status="200"' in text
    assert 'jot_tokens_issued_total{destination="secret-db"}' in text


async def test_docs_are_off_by_default(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/docs")).status_code == 404
    assert (await anonymous.get("/redoc")).status_code == 404


async def test_docs_load_nothing_from_elsewhere(tmp_path: Path) -> None:
    started = open_authority(Settings(data_dir=tmp_path / "d", issuer=ISSUER, api_docs=True))
    app = create_app(authority=started.authority)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        urls = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
        assert len(urls) >= 3
        for url in urls:
            assert url.startswith("/docs/static/"), url
            asset = await http.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000
        assert "https://" not in page.text
        assert (await http.get("/openapi.json")).status_code == 200
    started.authority.close()


@pytest.mark.parametrize("sent", ["abc\n", "abc\r", "a" * 65, "a b", ""])
def test_a_request_id_that_would_break_a_log_line_is_replaced(sent: str) -> None:
    # A proxy's X-Request-Id is kept only if it is plain; re's "$" also matched before a
    # final newline, which would have split the access log's line.
    scope = {"headers": [(b"x-request-id", sent.encode("latin-1"))]}
    assert logs._request_id(scope) != sent
    assert logs._request_id({"headers": [(b"x-request-id", b"req-1.a_b")]}) == "req-1.a_b"
