from __future__ import annotations

from typing import Annotated

import flask
import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jot.destination.asgi import JotAuthMiddleware, require_role
from jot.destination.identity import Identity
from jot.destination.verifier import AsyncVerifier, Verifier
from jot.destination.wsgi import JotWSGIMiddleware, wsgi_identity

from .authority import ACCESS_KEY, FakeAuthority

pytestmark = pytest.mark.anyio

AdminIdentity = Annotated[Identity, Depends(require_role("admin"))]


@pytest.fixture
def authority() -> FakeAuthority:
    a = FakeAuthority()
    a.set_grants([("group:ops", "admin", "web"), ("user:bob@example.com", "viewer", "web")])
    return a


def async_verifier(authority: FakeAuthority) -> AsyncVerifier:
    return AsyncVerifier(
        authority.issuer, audience="web", access_key=ACCESS_KEY, http=authority.async_client()
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def starlette_app(authority: FakeAuthority, **options) -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        user = request.user
        assert isinstance(user, Identity)
        return JSONResponse({"name": user.name, "roles": sorted(request.auth.scopes)})

    @require_role("admin")
    async def admin(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @requires("viewer")
    async def viewer(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    routes = [Route("/", whoami), Route("/admin", admin), Route("/viewer", viewer)]
    middleware = [Middleware(JotAuthMiddleware, verifier=async_verifier(authority), **options)]
    return Starlette(routes=routes, middleware=middleware)


async def test_starlette(authority):
    app = starlette_app(authority)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        alice = bearer(authority.token())
        response = await client.get("/", headers=alice)
        assert response.json() == {"name": "alice@example.com", "roles": ["admin"]}
        assert (await client.get("/admin", headers=alice)).status_code == 200
        assert (await client.get("/viewer", headers=alice)).status_code == 403
        bob = bearer(authority.token(name="bob@example.com", groups=[]))
        assert (await client.get("/viewer", headers=bob)).status_code == 200
        assert (await client.get("/admin", headers=bob)).status_code == 403

        none = await client.get("/")
        assert none.status_code == 401
        assert none.headers["www-authenticate"] == 'Bearer realm="web"'
        expired = await client.get("/", headers=bearer(authority.token(exp=1)))
        assert expired.status_code == 401
        assert expired.headers["www-authenticate"] == 'Bearer realm="web", error="invalid_token"'
        other = await client.get("/", headers=bearer(authority.token(aud="db")))
        assert other.status_code == 401
        nobody = bearer(authority.token(name="carol@example.com", groups=["dev"]))
        assert (await client.get("/", headers=nobody)).status_code == 403
        assert (await client.get("/", headers={"Authorization": "Basic eDp5"})).status_code == 401


async def test_optional_and_no_grant_required(authority):
    app = starlette_app(authority, optional=True, require_grant=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/admin")).status_code == 401
        nobody = bearer(authority.token(name="carol@example.com", groups=[]))
        assert (await client.get("/admin", headers=nobody)).status_code == 403


async def test_authority_down_is_503(authority):
    authority.down = True
    transport = httpx.ASGITransport(app=starlette_app(authority))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/", headers=bearer(authority.token()))
        assert response.status_code == 503


async def test_fastapi_dependency(authority):
    app = FastAPI()

    @app.get("/admin")
    def admin(identity: AdminIdentity) -> dict[str, str]:
        return {"name": identity.name}

    wrapped = JotAuthMiddleware(app, verifier=async_verifier(authority), require_grant=False)
    transport = httpx.ASGITransport(app=wrapped)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/admin", headers=bearer(authority.token()))
        assert response.json() == {"name": "alice@example.com"}
        bob = bearer(authority.token(name="bob@example.com", groups=[]))
        assert (await client.get("/admin", headers=bob)).status_code == 403


async def test_websocket_and_lifespan_scopes(authority):
    seen: list[dict] = []

    async def app(scope, receive, send):
        seen.append(scope)

    middleware = JotAuthMiddleware(app, verifier=async_verifier(authority))
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "websocket.connect"}

    token = authority.token().encode()
    good = {"type": "websocket", "path": "/ws", "headers": [(b"authorization", b"Bearer " + token)]}
    await middleware(good, receive, send)
    assert seen[-1]["user"].name == "alice@example.com"
    await middleware({"type": "websocket", "path": "/ws", "headers": []}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    await middleware({"type": "lifespan"}, receive, send)
    assert seen[-1] == {"type": "lifespan"}
    assert len(seen) == 2


def test_bad_options():
    with pytest.raises(ValueError):
        require_role()
    with pytest.raises(ValueError):
        JotAuthMiddleware(None, verifier=object())  # type: ignore[arg-type]


def test_flask(authority, request):
    app = flask.Flask(__name__)

    @app.get("/")
    def index() -> dict[str, object]:
        identity = wsgi_identity(flask.request.environ)
        assert identity is not None
        return {"user": flask.request.environ["REMOTE_USER"], "roles": sorted(identity.roles)}

    verifier = Verifier(
        authority.issuer, audience="web", access_key=ACCESS_KEY, http=authority.client()
    )
    request.addfinalizer(verifier.close)
    app.wsgi_app = JotWSGIMiddleware(app.wsgi_app, verifier=verifier)  # type: ignore[method-assign]
    client = app.test_client()
    response = client.get("/", headers=bearer(authority.token()))
    assert response.json == {"user": "alice@example.com", "roles": ["admin"]}
    none = client.get("/", environ_overrides={"REMOTE_USER": "root"})
    assert none.status_code == 401
    assert none.headers["WWW-Authenticate"] == 'Bearer realm="web"'
    assert client.get("/", headers=bearer(authority.token(exp=1))).status_code == 401
    nobody = bearer(authority.token(name="carol@example.com", groups=[]))
    assert client.get("/", headers=nobody).status_code == 403
    authority.down = True
    verifier2 = Verifier(authority.issuer, audience="web", http=authority.client())
    app.wsgi_app = JotWSGIMiddleware(flask.Flask("x").wsgi_app, verifier=verifier2)  # type: ignore[method-assign]
    assert client.get("/", headers=bearer(authority.token())).status_code == 503
