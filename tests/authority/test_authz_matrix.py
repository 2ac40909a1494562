"""The authorization matrix (issue 11, "Done when"): every route × anonymous, user, machine,
connector, viewer and admin, against the rule each route is declared with. The web
console's pages are routes too: their callers come with a browser signed in with their key.

Every route of ``jot.authority.routes`` needs a row in :data:`CALLS` (a new route without one
fails :func:`test_every_route_is_in_the_matrix`). "Denied" means the access rule refused:
401, or 403 with ``error: forbidden``; anything else (200, 404, a 400 about the body, a CSRF
403 page) got past it. Each call gets fresh targets and a fresh key, so a call that is
allowed (a delete, a logout) changes nothing the next one needs.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from jot.authority import routes
from jot.authority.access import Need
from jot.authority.app import create_app
from jot.authority.csrf import Forms
from jot.authority.web.routes import PAGES
from jot.jose import jwk

from .conftest import ISSUER, bearer

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse"
WHO = ["anonymous", "user", "machine", "connector", "viewer", "admin"]

#: Who passes each rule. A route's row comes from the rule it is declared with.
ALLOWED: dict[Need, set[str]] = {
    Need.PUBLIC: set(WHO),
    Need.SELF: set(WHO) - {"anonymous"},
    Need.VIEW: {"viewer", "admin"},
    Need.GRANTS: {"connector", "viewer", "admin"},
    Need.ADMIN: {"admin"},
    Need.METRICS: {"viewer", "admin"},
}

#: Exceptions for the connector, by (method, path): it is bound to "web" (``connector`` on
#: ``jot.web``) and reads nothing of any other destination, ``jot``'s own grants included.
CONNECTOR: dict[tuple[str, str], bool] = {
    ("GET", "/api/grants?destination=jot"): False,
    ("GET", "/api/grants?destination=db"): False,
    ("GET", "/api/grants"): False,
    ("GET", "/api/destinations/db"): False,
}

#: Exceptions by route: a viewer reads every access request but answers none (that takes
#: approver or admin), and only its requester cancels one; nobody else is told that someone
#: else's request exists (404).
BY_ROUTE: dict[tuple[str, str], dict[str, bool]] = {
    ("POST", "/api/access-requests/{request_id}/approve"): {"viewer": False},
    ("POST", "/api/access-requests/{request_id}/deny"): {"viewer": False},
    ("POST", "/api/access-requests/{request_id}/cancel"): {"viewer": False, "admin": False},
    # A viewer reads a destination's encryption key; its connector or an admin sets it.
    ("PUT", "/api/destinations/{name}/encryption-key"): {"viewer": False},
    ("DELETE", "/api/destinations/{name}/encryption-key"): {"viewer": False},
}

#: Routes that take a credential of their own, never an access key: every column is denied.
#: (The OpenID token endpoint takes a client's credentials; userinfo a jot issued to one.)
OWN_CREDENTIALS = {("POST", "/oidc/token"), ("GET", "/oidc/userinfo"), ("POST", "/oidc/userinfo")}

#: The identity names behind each column (``anonymous`` has none).
NAMES = {
    "user": "alice@example.com",
    "machine": "bot",
    "connector": "web-connector",
    "viewer": "vera@example.com",
    "admin": "admin",
}


@dataclass
class World:
    http: httpx.AsyncClient
    admin_key: str
    forms: Forms

    async def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.request(method, path, headers=bearer(self.admin_key), **kwargs)
        assert response.is_success, (method, path, response.text)
        return response

    async def key_of(self, who: str) -> str | None:
        if who == "anonymous":
            return None
        if who == "admin":
            made = await self.admin("POST", "/api/access-keys", json={"identity": "admin"})
        else:
            made = await self.admin("POST", "/api/access-keys", json={"identity": NAMES[who]})
        return str(made.json()["access_key"])

    async def browser(self, key: str | None) -> dict[str, str]:
        """The cookies of a browser signed in with ``key`` (``None``: nobody signed in)."""
        page = await self.http.get("/sign-in")
        cookies = dict(page.cookies)
        self.http.cookies.clear()
        if key is None:
            return cookies
        form = {"method": "key", "access_key": key, "csrf_token": _token(page.text, "/sign-in")}
        done = await self.http.post("/sign-in", data=form, headers=_cookie_header(cookies))
        self.http.cookies.clear()
        assert done.status_code == 303, done.text
        return {**cookies, **dict(done.cookies)}

    async def token(self, cookies: dict[str, str], source: str, action: str) -> str:
        """The CSRF token of a form that posts to ``action``, as page ``source`` would have
        issued it to this browser (bound to its session, if it has one)."""
        del source  # Computed, not scraped: a form may be on a later page of a long list.
        session = cookies.get("jot_session", "").split(".")[0]
        header = "; ".join(f"{name}={value}" for name, value in cookies.items()).encode()
        request = Request({"type": "http", "headers": [(b"cookie", header)]})
        return self.forms.issue(request, f"{action}|{session}" if session else action).token

    async def throwaway(self, kind: str) -> str:
        name = f"t{secrets.token_hex(4)}"
        if kind == "user":
            await self.admin("POST", "/api/users", json={"name": name, "kind": "machine"})
        elif kind == "group":
            await self.admin("POST", "/api/groups", json={"name": name})
        elif kind == "destination":
            await self.admin("POST", "/api/destinations", json={"name": name})
        elif kind == "provider":
            body = {"name": name, "issuer": "https://idp.invalid", "client_id": "c"}
            await self.admin("POST", "/api/providers", json=body)
        elif kind == "request":
            await self.admin("POST", "/api/users", json={"name": name, "kind": "machine"})
            made = await self.admin("POST", "/api/access-keys", json={"identity": name})
            ask = {"role": "viewer", "resource": "db", "duration": 600, "reason": "matrix"}
            asked = await self.http.post(
                "/api/access-requests", json=ask, headers=bearer(made.json()["access_key"])
            )
            assert asked.status_code == 201, asked.text
            return str(asked.json()["id"])
        elif kind == "grant":
            grant = {"subject": "user:bot", "role": name, "resource": "web"}
            return str((await self.admin("POST", "/api/grants", json=grant)).json()["id"])
        return name


_CSRF = "name='csrf_token' value='([^']+)'"


def _token(html: str, action: str) -> str:
    found = re.search(rf'action="{re.escape(action)}"[^>]*>\s*<input type=\'hidden\' {_CSRF}', html)
    assert found is not None, (action, html)
    return found.group(1)


def _cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


# (method, route path) -> how to call it: async (world, who, key) -> (path, request kwargs).
Call = Callable[[World, str, str | None], Awaitable[tuple[str, dict[str, Any]]]]


def fixed(path: str, **kwargs: Any) -> Call:
    async def call(_world: World, _who: str, _key: str | None) -> tuple[str, dict[str, Any]]:
        return path, kwargs

    return call


def on(kind: str, template: str, **kwargs: Any) -> Call:
    async def call(world: World, _who: str, _key: str | None) -> tuple[str, dict[str, Any]]:
        return template.format(await world.throwaway(kind)), kwargs

    return call


async def _member(world: World, _who: str, _key: str | None) -> tuple[str, dict[str, Any]]:
    group, user = await world.throwaway("group"), await world.throwaway("user")
    return f"/api/groups/{group}/members", {"json": {"name": user}}


async def _remove_member(world: World, _who: str, _key: str | None) -> tuple[str, dict[str, Any]]:
    group, user = await world.throwaway("group"), await world.throwaway("user")
    await world.admin("POST", f"/api/groups/{group}/members", json={"name": user})
    return f"/api/groups/{group}/members/{user}", {}


async def _own_key(world: World, who: str, _key: str | None) -> tuple[str, dict[str, Any]]:
    other = await world.key_of("admin" if who == "anonymous" else who)
    assert other is not None
    return f"/api/access-keys/{other.split('_')[2]}", {}


async def _new_key(_world: World, who: str, _key: str | None) -> tuple[str, dict[str, Any]]:
    return "/api/access-keys", {"json": {"identity": NAMES.get(who, "admin")}}


async def _own_keys(_world: World, who: str, _key: str | None) -> tuple[str, dict[str, Any]]:
    # ``identity`` is a required query parameter today (issue 15 item 9).
    return "/api/access-keys", {"params": {"identity": NAMES.get(who, "admin")}}


async def _password(_world: World, who: str, _key: str | None) -> tuple[str, dict[str, Any]]:
    # The same password again: the check runs, nothing the next calls need changes.
    return "/api/password", {"json": {"current": PASSWORD, "new": PASSWORD}}


_PUBLIC_KEY = jwk.generate("X25519").public().to_dict()


def page(path: str, form: dict[str, str] | None = None, source: str = "/") -> Call:
    """A console page, from a browser signed in as the caller; a post carries the CSRF token
    of its form on page ``source`` (so that only the access rule can refuse it)."""

    async def call(world: World, _who: str, key: str | None) -> tuple[str, dict[str, Any]]:
        cookies = await world.browser(key)
        kwargs: dict[str, Any] = {"headers": _cookie_header(cookies)}
        if form is not None:
            kwargs["data"] = {**form, "csrf_token": await world.token(cookies, source, path)}
        return path, kwargs

    return call


async def _sign_in(world: World, _who: str, _key: str | None) -> tuple[str, dict[str, Any]]:
    cookies = await world.browser(None)
    token = await world.token(cookies, "/sign-in", "/sign-in")
    form = {"method": "password", "name": "alice@example.com", "password": PASSWORD}
    return "/sign-in", {"headers": _cookie_header(cookies), "data": {**form, "csrf_token": token}}


CALLS: dict[tuple[str, str], list[Call]] = {
    ("GET", "/"): [page("/")],
    ("POST", "/token"): [page("/token", {"destination": "web"})],
    ("GET", "/kubeconfig"): [page("/kubeconfig?destination=web")],
    ("POST", "/keys"): [page("/keys", {"ttl": "x"})],
    ("POST", "/keys/revoke"): [page("/keys/revoke", {"id": "x"})],
    ("POST", "/password"): [page("/password", {"current": "x", "new": "short"})],
    ("GET", "/debug"): [page("/debug")],
    ("GET", "/sign-in"): [page("/sign-in")],
    ("POST", "/sign-in"): [_sign_in],
    ("POST", "/sign-out"): [page("/sign-out", {})],
    ("GET", "/requests"): [page("/requests")],
    ("POST", "/requests"): [page("/requests", {"role": ""}, "/requests")],
    ("POST", "/requests/answer"): [page("/requests/answer", {"id": "x"}, "/requests")],
    ("POST", "/requests/cancel"): [page("/requests/cancel", {"id": "x"}, "/requests")],
    # The console's posts carry bodies its handlers refuse (400, 404): only the access rule
    # can refuse them otherwise, and an allowed one changes nothing the next call needs.
    ("GET", "/admin"): [page("/admin")],
    ("GET", "/admin/users"): [page("/admin/users")],
    ("POST", "/admin/users"): [page("/admin/users", {"name": ""}, "/admin/users")],
    ("POST", "/admin/users/delete"): [page("/admin/users/delete", {"name": "x"}, "/admin/users")],
    ("GET", "/admin/users/{name}"): [page("/admin/users/bot")],
    ("POST", "/admin/users/{name}/password"): [
        page("/admin/users/bot/password", {"password": ""}, "/admin/users/bot")
    ],
    ("POST", "/admin/users/{name}/rename"): [
        page("/admin/users/bot/rename", {"new_name": ""}, "/admin/users/bot")
    ],
    ("GET", "/admin/groups"): [page("/admin/groups")],
    ("POST", "/admin/groups"): [page("/admin/groups", {"name": ""}, "/admin/groups")],
    ("POST", "/admin/groups/delete"): [
        page("/admin/groups/delete", {"name": "x"}, "/admin/groups")
    ],
    ("POST", "/admin/groups/members"): [
        page("/admin/groups/members", {"group": "x", "member": "y"}, "/admin/groups")
    ],
    ("POST", "/admin/groups/members/remove"): [
        page("/admin/groups/members/remove", {"group": "x", "member": "y"}, "/admin/groups")
    ],
    ("GET", "/admin/destinations"): [page("/admin/destinations")],
    ("POST", "/admin/destinations"): [
        page("/admin/destinations", {"name": ""}, "/admin/destinations")
    ],
    ("POST", "/admin/destinations/delete"): [
        page("/admin/destinations/delete", {"name": "x"}, "/admin/destinations")
    ],
    # The console's writes below are refused by their handler (bad input, unknown names)
    # once past the rule: only the rule is under test, and nothing changes.
    ("GET", "/admin/destinations/{name}"): [page("/admin/destinations/web")],
    ("POST", "/admin/destinations/{name}/update"): [
        page("/admin/destinations/web/update", {"lifetime": "5"}, "/admin/destinations/web")
    ],
    ("POST", "/admin/destinations/{name}/seal"): [
        page("/admin/destinations/web/seal", {"key": "{"}, "/admin/destinations/web")
    ],
    ("GET", "/admin/grants"): [page("/admin/grants")],
    ("POST", "/admin/grants"): [page("/admin/grants", {"subject": "x"}, "/admin/grants")],
    ("POST", "/admin/grants/delete"): [page("/admin/grants/delete", {"id": "x"}, "/admin/grants")],
    ("GET", "/admin/explain"): [page("/admin/explain?subject=user:bot&resource=web")],
    ("GET", "/admin/access-keys"): [page("/admin/access-keys")],
    ("POST", "/admin/access-keys/revoke"): [
        page("/admin/access-keys/revoke", {"id": "x"}, "/admin/access-keys")
    ],
    ("POST", "/admin/access-keys"): [
        page("/admin/access-keys", {"identity": "bot", "ttl": "x"}, "/admin/access-keys")
    ],
    ("GET", "/admin/revocations"): [page("/admin/revocations")],
    ("POST", "/admin/revocations"): [
        page("/admin/revocations", {"subject": "x"}, "/admin/revocations")
    ],
    ("POST", "/admin/revocations/token"): [
        page("/admin/revocations/token", {"token": ""}, "/admin/revocations")
    ],
    ("POST", "/admin/revocations/lift"): [
        page("/admin/revocations/lift", {"id": "x"}, "/admin/revocations")
    ],
    ("GET", "/admin/signing-keys"): [page("/admin/signing-keys")],
    ("POST", "/admin/signing-keys/rotate"): [  # Not confirmed: refused, nothing rotates.
        page("/admin/signing-keys/rotate", {}, "/admin/signing-keys")
    ],
    ("GET", "/admin/providers"): [page("/admin/providers")],
    ("POST", "/admin/providers"): [page("/admin/providers", {"name": ""}, "/admin/providers")],
    ("POST", "/admin/providers/delete"): [
        page("/admin/providers/delete", {"name": "x"}, "/admin/providers")
    ],
    ("POST", "/admin/providers/update"): [
        page("/admin/providers/update", {"name": "x"}, "/admin/providers")
    ],
    ("GET", "/admin/audit"): [page("/admin/audit")],
    ("GET", "/admin/audit/tail"): [page("/admin/audit/tail?after=0")],
    ("POST", "/api/login"): [
        fixed("/api/login", json={"name": "alice@example.com", "password": PASSWORD})
    ],
    ("POST", "/api/logout"): [fixed("/api/logout")],
    ("GET", "/api/whoami"): [fixed("/api/whoami")],
    ("POST", "/api/password"): [_password],
    ("POST", "/api/tokens"): [fixed("/api/tokens", json={"destination": "web"})],
    ("GET", "/api/users"): [fixed("/api/users")],
    ("POST", "/api/users"): [on("user", "/api/users", json={"name": "new-one", "kind": "machine"})],
    ("GET", "/api/users/{name}"): [fixed("/api/users/bot")],
    ("PATCH", "/api/users/{name}"): [on("user", "/api/users/{}", json={})],
    ("DELETE", "/api/users/{name}"): [on("user", "/api/users/{}")],
    ("GET", "/api/groups"): [fixed("/api/groups")],
    ("POST", "/api/groups"): [fixed("/api/groups", json={"name": "g-new"})],
    ("GET", "/api/groups/{name}"): [fixed("/api/groups/devs")],
    ("DELETE", "/api/groups/{name}"): [on("group", "/api/groups/{}")],
    ("POST", "/api/groups/{name}/members"): [_member],
    ("DELETE", "/api/groups/{name}/members/{member}"): [_remove_member],
    ("GET", "/api/destinations"): [fixed("/api/destinations")],
    ("POST", "/api/destinations"): [fixed("/api/destinations", json={"name": "d-new"})],
    ("GET", "/api/destinations/{name}"): [
        fixed("/api/destinations/web"),
        fixed("/api/destinations/db"),
    ],
    ("PATCH", "/api/destinations/{name}"): [on("destination", "/api/destinations/{}", json={})],
    ("DELETE", "/api/destinations/{name}"): [on("destination", "/api/destinations/{}")],
    ("PUT", "/api/destinations/{name}/encryption-key"): [
        fixed("/api/destinations/web/encryption-key", json={"key": _PUBLIC_KEY})
    ],
    ("DELETE", "/api/destinations/{name}/encryption-key"): [
        fixed("/api/destinations/web/encryption-key")
    ],
    ("POST", "/api/grants"): [
        fixed("/api/grants", json={"subject": "user:bot", "role": "r-new", "resource": "web"})
    ],
    ("DELETE", "/api/grants/{grant_id}"): [on("grant", "/api/grants/{}")],
    ("GET", "/api/grants"): [
        fixed("/api/grants?destination=web"),
        fixed("/api/grants?destination=jot"),
        fixed("/api/grants?destination=db"),
        fixed("/api/grants"),
    ],
    ("GET", "/api/access-requests"): [fixed("/api/access-requests")],
    ("POST", "/api/access-requests"): [
        fixed(
            "/api/access-requests",
            json={"role": "r", "resource": "web", "duration": 600, "reason": "matrix"},
        )
    ],
    ("GET", "/api/access-requests/{request_id}"): [on("request", "/api/access-requests/{}")],
    ("POST", "/api/access-requests/{request_id}/approve"): [
        on("request", "/api/access-requests/{}/approve", json={})
    ],
    ("POST", "/api/access-requests/{request_id}/deny"): [
        on("request", "/api/access-requests/{}/deny", json={})
    ],
    ("POST", "/api/access-requests/{request_id}/cancel"): [
        on("request", "/api/access-requests/{}/cancel")
    ],
    ("GET", "/api/revocations"): [fixed("/api/revocations")],
    ("POST", "/api/revocations"): [fixed("/api/revocations", json={"token": "matrix-jti"})],
    ("DELETE", "/api/revocations/{revocation_id}"): [fixed("/api/revocations/nope")],
    ("GET", "/api/access-keys"): [_own_keys],
    ("POST", "/api/access-keys"): [_new_key],
    ("DELETE", "/api/access-keys/{key_id}"): [_own_key],
    ("GET", "/api/signing-keys"): [fixed("/api/signing-keys")],
    ("POST", "/api/signing-keys/rotate"): [fixed("/api/signing-keys/rotate")],
    ("GET", "/api/audit"): [fixed("/api/audit")],
    ("GET", "/api/my-audit"): [fixed("/api/my-audit")],
    ("GET", "/api/my-access"): [fixed("/api/my-access")],
    ("GET", "/api/clusters/{name}"): [fixed("/api/clusters/web")],
    ("GET", "/api/explain"): [fixed("/api/explain?subject=user:bot&resource=web")],
    ("GET", "/api/providers"): [fixed("/api/providers")],
    ("POST", "/api/providers"): [
        fixed(
            "/api/providers",
            json={"name": "p-new", "issuer": "https://x.invalid", "client_id": "c"},
        )
    ],
    ("GET", "/api/providers/{name}"): [fixed("/api/providers/idp")],
    ("PATCH", "/api/providers/{name}"): [on("provider", "/api/providers/{}", json={})],
    ("DELETE", "/api/providers/{name}"): [on("provider", "/api/providers/{}")],
    ("GET", "/api/oidc/providers"): [fixed("/api/oidc/providers")],
    ("POST", "/api/oidc/exchange"): [
        fixed("/api/oidc/exchange", json={"code": "c" * 20, "code_verifier": "v" * 43})
    ],
    ("POST", "/api/oidc/device"): [fixed("/api/oidc/device", json={"provider": "idp"})],
    ("POST", "/api/oidc/device/token"): [
        fixed(
            "/api/oidc/device/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "x"},
        )
    ],
    ("GET", "/.well-known/jwks.json"): [fixed("/.well-known/jwks.json")],
    ("GET", "/.well-known/openid-configuration"): [fixed("/.well-known/openid-configuration")],
    ("GET", "/healthz"): [fixed("/healthz")],
    ("GET", "/readyz"): [fixed("/readyz")],
    ("GET", "/metrics"): [fixed("/metrics")],
    ("GET", "/oidc/{name}/login"): [fixed("/oidc/down/login")],
    ("GET", "/oidc/{name}/callback"): [fixed("/oidc/idp/callback", params={"error": "x"})],
    ("GET", "/oidc/device"): [fixed("/oidc/device")],
    ("POST", "/oidc/device"): [fixed("/oidc/device", data={"user_code": "BCDF-GHJK"})],
    ("GET", "/oidc/authorize"): [fixed("/oidc/authorize", params={"client_id": "web"})],
    ("POST", "/oidc/authorize"): [fixed("/oidc/authorize", data={"client_id": "web"})],
    ("GET", "/oidc/logout"): [fixed("/oidc/logout")],
    ("POST", "/oidc/logout"): [fixed("/oidc/logout", data={"client_id": "web"})],
    ("POST", "/oidc/token"): [
        fixed("/oidc/token", data={"grant_type": "authorization_code", "code": "x"})
    ],
    ("GET", "/oidc/userinfo"): [fixed("/oidc/userinfo")],
    ("POST", "/oidc/userinfo"): [fixed("/oidc/userinfo")],
}


def _declared() -> dict[tuple[str, str], Need]:
    """Every route and the rule it is declared with (raw routes check their own)."""
    needs = {(r.method, r.path): r.need for r in routes.ROUTES}
    raw = {
        ("GET", "/api/grants"): Need.GRANTS,
        ("GET", "/metrics"): Need.METRICS,
    }
    for method, path, _, _ in routes.RAW_ROUTES:
        needs[(method, path)] = raw.get((method, path), Need.PUBLIC)
    for web in PAGES:
        needs[(web.method, web.path)] = web.need
    return needs


def test_every_route_is_in_the_matrix() -> None:
    assert set(CALLS) == set(_declared())


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jot.db'}"


@pytest.fixture
async def world(started, admin_key: str) -> World:
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    http = httpx.AsyncClient(transport=transport, base_url=ISSUER)
    found = World(http, admin_key, started.authority.forms)
    for name, kind in (
        ("alice@example.com", "user"),
        ("bot", "machine"),
        ("web-connector", "machine"),
        ("vera@example.com", "user"),
    ):
        await found.admin("POST", "/api/users", json={"name": name, "kind": kind})
        if kind == "user":
            await found.admin("PATCH", f"/api/users/{name}", json={"password": PASSWORD})
    await found.admin("POST", "/api/groups", json={"name": "devs"})
    await found.admin("POST", "/api/groups/devs/members", json={"name": "bot"})
    await found.admin("POST", "/api/destinations", json={"name": "web"})
    await found.admin("POST", "/api/destinations", json={"name": "db"})
    for subject, role, resource in (
        ("user:web-connector", "connector", "jot.web"),
        ("user:vera@example.com", "view", "jot"),
        *((f"user:{NAMES[w]}", "viewer", "web") for w in NAMES),
    ):
        body = {"subject": subject, "role": role, "resource": resource}
        await found.admin("POST", "/api/grants", json=body)
    for name, issuer in (("idp", "https://idp.invalid"), ("down", "http://127.0.0.1:9")):
        body = {"name": name, "issuer": issuer, "client_id": "c"}
        await found.admin("POST", "/api/providers", json=body)
    return found


def _denied(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    if response.status_code == 303:  # A page sends whoever is not signed in to sign in.
        location = response.headers["location"]
        return location == "/sign-in" or location.startswith("/sign-in?next=")
    if response.status_code != 403:
        return False
    kind = response.headers.get("content-type", "")
    if kind.startswith("text/html"):  # A page's refusal, not a refused form (CSRF).
        return "this needs the" in response.text
    return kind.startswith("application/json") and response.json().get("error") == "forbidden"


async def test_the_matrix(world: World) -> None:
    wrong = []
    for (method, route), need in sorted(_declared().items(), key=lambda item: item[0]):
        for call in CALLS[(method, route)]:
            for who in WHO:
                key = await world.key_of(who)
                path, kwargs = await call(world, who, key)
                headers = {**(bearer(key) if key else {}), **kwargs.pop("headers", {})}
                response = await world.http.request(method, path, headers=headers, **kwargs)
                world.http.cookies.clear()
                assert response.status_code in range(500) or response.status_code == 502, (
                    method,
                    path,
                    who,
                    response.text,
                )
                allowed = BY_ROUTE.get((method, route), {}).get(who, who in ALLOWED[need])
                allowed = allowed and (method, route) not in OWN_CREDENTIALS
                if who == "connector":
                    allowed = CONNECTOR.get((method, path), allowed)
                if _denied(response) == allowed:
                    wrong.append(f"{who:9} {method} {path} → {response.status_code}")
    await world.http.aclose()
    assert not wrong, "\n".join(wrong)
