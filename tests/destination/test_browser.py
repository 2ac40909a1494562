"""Browser sign-in at a destination, in process: forward auth with ``browser=`` against the
real authority app (httpx's ASGI transport), on one fake clock. The sign-in at the authority
is the seam :func:`jot.authority.openid.signin.signed_in` (tests/web signs in with Chromium).

The paths that must refuse: a callback not started in this browser, a state or issuer that
does not match, an error answer, a replayed code, a foreign or changed cookie, a return
address elsewhere, another host; and renewal: on time, and refused once the grant is gone.
"""

# ruff: noqa: F811  (the authority's fixtures, imported, are parameters here)
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
import pytest
from starlette.responses import PlainTextResponse

from jot.authority.app import Started, create_app
from jot.authority.clock import FakeClock, to_datetime
from jot.authority.models import Identity
from jot.authority.openid import signin
from jot.destination.asgi import JotAuthMiddleware
from jot.destination.browser import AsyncBrowserSignIn, BrowserSettings, BrowserSignIn
from jot.destination.forward_auth import ForwardAuth
from jot.destination.grants import FileGrants
from jot.destination.verifier import AsyncVerifier, Verifier
from jot.destination.wsgi import JotWSGIMiddleware
from tests.authority.conftest import (  # noqa: F401  (fixtures)
    admin,
    admin_key,
    anyio_backend,
    client,
    clock,
    db_url,
    settings,
    settings_factory,
    started,
)

pytestmark = pytest.mark.anyio

#: The authority's issuer: loopback, as the destination requires for plain http (the
#: requests go through httpx's ASGI transport, never to this address).
LOCAL = "http://127.0.0.1:9"
ORIGIN = "https://web.example"
CALLBACK = f"{ORIGIN}/.jot/callback"


@pytest.fixture
def settings(settings_factory):
    return settings_factory(issuer=LOCAL)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jot.db'}"


class Browser:
    """Cookies per host, as a browser keeps them (enough of RFC 6265 for these answers)."""

    def __init__(self) -> None:
        self.jar: dict[str, str] = {}

    def take(self, headers: list[tuple[bytes, bytes]]) -> None:
        for name, value in headers:
            if name == b"set-cookie":
                pair = value.decode().split(";", 1)[0]
                key, _, val = pair.partition("=")
                if "Max-Age=0" in value.decode():
                    self.jar.pop(key, None)
                else:
                    self.jar[key] = val

    def cookie(self) -> list[tuple[bytes, bytes]]:
        if not self.jar:
            return []
        return [(b"cookie", "; ".join(f"{k}={v}" for k, v in self.jar.items()).encode())]


@pytest.fixture
async def world(
    admin: httpx.AsyncClient,
    started: Started,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    for path, body in (
        ("/api/users", {"name": "alice@example.com"}),
        ("/api/destinations", {"name": "web", "oidc": {"redirect_uris": [CALLBACK]}}),
        ("/api/grants", {"subject": "user:alice@example.com", "role": "viewer", "resource": "web"}),
    ):
        response = await admin.post(path, json=body)
        assert response.status_code == 201, response.text
        if path == "/api/destinations":
            secret = response.json()["oidc"]["client_secret"]
    with started.authority.db.transaction(write=False) as session:
        alice = session.query(Identity).filter_by(name="alice@example.com").one()
        start = started.authority.clock
    since = to_datetime(start())
    me = signin.SignedIn(alice.id, "s-1", since, since + timedelta(hours=8))
    monkeypatch.setattr(signin, "signed_in", lambda _request: me)
    monkeypatch.setattr(signin, "session_end", lambda _s, _id, _now: me.expires)
    grants = tmp_path / "grants.toml"
    grants.write_text(
        '[[grants]]\nsubject = "user:alice@example.com"\nrole = "viewer"\nresource = "web"\n'
    )
    transport = httpx.ASGITransport(app=create_app(authority=started.authority))
    http = httpx.AsyncClient(transport=transport, base_url=LOCAL)
    verifier = AsyncVerifier(
        LOCAL, audience="web", grants=FileGrants(grants), http=http, clock=clock
    )
    browser = AsyncBrowserSignIn(
        BrowserSettings(LOCAL, "web", secret, (ORIGIN,)), verifier, http=http, clock=clock
    )
    return {
        "app": ForwardAuth(verifier, browser=browser),
        "browser": browser,
        "http": http,
        "admin": admin,
        "secret": secret,
    }


async def _call(
    app: ForwardAuth,
    path: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    host: str = "web.example",
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [(b"host", host.encode()), *(headers or [])],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], list(sent[0]["headers"]), sent[1]["body"]


def _location(headers: list[tuple[bytes, bytes]]) -> str:
    return dict(headers)[b"location"].decode()


async def _sign_in(world: dict[str, Any], browser: Browser, rd: str = "/reports?x=1") -> str:
    """Up to the callback URL (the authority's answer with the code)."""
    status, headers, _ = await _call(world["app"], f"/.jot/signin?rd={rd}", browser.cookie())
    assert status == 302
    browser.take(headers)
    authorize = _location(headers)
    assert authorize.startswith(f"{LOCAL}/oidc/authorize?")
    answer = await world["http"].get(authorize)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


async def _signed_in(world: dict[str, Any]) -> Browser:
    browser = Browser()
    callback = await _sign_in(world, browser)
    status, headers, _ = await _call(world["app"], callback.removeprefix(ORIGIN), browser.cookie())
    assert status == 303
    assert _location(headers) == f"{ORIGIN}/reports?x=1"
    browser.take(headers)
    assert set(browser.jar) == {"__Host-jot_session"}
    return browser


async def test_sign_in_then_requests_then_renewal(world: dict[str, Any], clock: FakeClock) -> None:
    app = world["app"]
    status, headers, _ = await _call(app, "/auth")
    assert status == 401
    browser = await _signed_in(world)
    status, headers, _ = await _call(app, "/auth", browser.cookie())
    assert status == 200
    assert dict(headers)[b"x-jot-user"] == b"alice@example.com"
    assert b"set-cookie" not in dict(headers)
    before = browser.jar["__Host-jot_session"]
    clock.advance(250)  # Less than a minute left: renewed through the authority.
    status, headers, _ = await _call(app, "/auth", browser.cookie())
    assert status == 200
    browser.take(headers)
    assert browser.jar["__Host-jot_session"] != before
    renewed = world["browser"].jar.session(browser.jar["__Host-jot_session"], clock())
    assert renewed is not None
    # The grant goes at the authority: the next renewal is refused, the session ends.
    grants = (await world["admin"].get("/api/grants", params={"destination": "web"})).json()
    await world["admin"].delete(f"/api/grants/{grants['items'][0]['id']}")
    clock.advance(300)
    status, headers, _ = await _call(app, "/auth", browser.cookie())
    assert status == 401
    browser.take(headers)
    assert browser.jar == {}


async def test_api_clients_are_answered_as_before(world: dict[str, Any]) -> None:
    status, headers, _ = await _call(world["app"], "/auth", [(b"authorization", b"Bearer x.y.z")])
    assert status == 401
    assert b"location" not in dict(headers)


@pytest.mark.parametrize(
    "change",
    ["no_state_cookie", "other_state", "error", "other_issuer", "replay", "other_host"],
)
async def test_callbacks_that_are_refused(world: dict[str, Any], change: str) -> None:
    browser = Browser()
    callback = await _sign_in(world, browser)
    path = callback.removeprefix(ORIGIN)
    host = "web.example"
    if change == "no_state_cookie":
        browser.jar.clear()
    elif change == "other_state":
        path = path.replace("state=", "state=x")
    elif change == "error":
        path += "&error=access_denied"
    elif change == "other_issuer":
        path = path.replace("iss=", "iss=https%3A%2F%2Fevil.example&was=")
    elif change == "replay":
        first, headers, _ = await _call(world["app"], path, browser.cookie())
        assert first == 303
    elif change == "other_host":
        host = "evil.example"
    status, headers, body = await _call(world["app"], path, browser.cookie(), host=host)
    assert status == 400, body
    assert b"set-cookie" not in dict(headers)


@pytest.mark.parametrize(
    "rd",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        quote("https://evil.example/", safe=""),
        "http://web.example/",
    ],
)
async def test_return_addresses_elsewhere_are_refused(world: dict[str, Any], rd: str) -> None:
    status, headers, body = await _call(world["app"], f"/.jot/signin?rd={rd}")
    assert status == 400
    assert b"location" not in dict(headers)
    assert b"not on this destination" in body


@pytest.mark.parametrize("rd", ["%2Fa%E2%80%AEb", "%2Fa%0D%0ALocation:%20x", "%2F%C3%A9"])
async def test_return_addresses_no_header_can_carry_are_refused(
    world: dict[str, Any], rd: str
) -> None:
    status, headers, _body = await _call(world["app"], f"/.jot/signin?rd={rd}")
    assert status == 400
    assert b"location" not in dict(headers)


async def test_a_return_address_on_our_origin_is_kept(world: dict[str, Any]) -> None:
    browser = Browser()
    callback = await _sign_in(world, browser, rd=quote(f"{ORIGIN}/a/b?c=d", safe=""))
    status, headers, _ = await _call(world["app"], callback.removeprefix(ORIGIN), browser.cookie())
    assert status == 303
    assert _location(headers) == f"{ORIGIN}/a/b?c=d"


async def test_a_changed_or_foreign_cookie_is_no_session(world: dict[str, Any]) -> None:
    browser = await _signed_in(world)
    value = browser.jar["__Host-jot_session"]
    changed = value[:-2] + ("AA" if value[-2:] != "AA" else "BB")
    for bad in (changed, "garbage", value.split(".", 1)[1]):
        status, _, _ = await _call(
            world["app"], "/auth", [(b"cookie", f"__Host-jot_session={bad}".encode())]
        )
        assert status == 401
    # A cookie of the same name tossed in beside the real one does not hide it.
    both = f"__Host-jot_session=garbage; __Host-jot_session={value}".encode()
    assert (await _call(world["app"], "/auth", [(b"cookie", both)]))[0] == 200


async def test_redirect_mode_and_sign_out(world: dict[str, Any]) -> None:
    browser: AsyncBrowserSignIn = world["browser"]
    redirecting = ForwardAuth(
        browser.verifier,
        browser=AsyncBrowserSignIn(
            BrowserSettings(LOCAL, "web", world["secret"], (ORIGIN,), redirect=True),
            browser.verifier,
            http=world["http"],
        ),
    )
    status, headers, _ = await _call(redirecting, "/auth", [(b"x-forwarded-uri", b"/a?b=c&d=e")])
    assert status == 302
    assert _location(headers) == "/.jot/signin?rd=%2Fa%3Fb%3Dc%26d%3De"
    signed = await _signed_in(world)
    status, headers, _ = await _call(world["app"], "/.jot/signout", signed.cookie())
    assert status == 303
    assert urlsplit(_location(headers)).path == "/oidc/logout"
    assert parse_qs(urlsplit(_location(headers)).query)["client_id"] == ["web"]
    signed.take(headers)
    assert signed.jar == {}


async def test_the_middleware_signs_browsers_in(world: dict[str, Any]) -> None:
    async def hello(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse(scope["user"].name)(scope, receive, send)

    browser: AsyncBrowserSignIn = world["browser"]
    app = JotAuthMiddleware(hello, verifier=browser.verifier, browser=browser)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as site:
        first = await site.get("/page?a=1")
        assert first.status_code == 302
        assert first.headers["location"] == "/.jot/signin?rd=%2Fpage%3Fa%3D1"
        assert (await site.post("/page")).status_code == 401
        started = await site.get(first.headers["location"])
        assert started.status_code == 302
        # Answers that are this browser's own: never stored by a cache.
        assert first.headers["cache-control"] == started.headers["cache-control"] == "no-store"
        answer = await world["http"].get(started.headers["location"])
        done = await site.get(answer.headers["location"].removeprefix(ORIGIN))
        assert done.status_code == 303
        assert done.headers["location"] == f"{ORIGIN}/page?a=1"
        page = await site.get("/page?a=1")
        assert page.text == "alice@example.com"
        bearer = await site.get("/page", headers={"Authorization": "Bearer x.y.z"})
        assert bearer.status_code == 401
        assert "location" not in bearer.headers


class _Bridge(httpx.BaseTransport):
    """A sync transport into the authority's ASGI app, for the sync twin in a worker thread:
    each request runs on the test's event loop (anyio.from_thread)."""

    def __init__(self, transport: httpx.ASGITransport) -> None:
        self.asgi = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def exchange() -> httpx.Response:
            answer = await self.asgi.handle_async_request(request)
            content = b"".join([part async for part in answer.stream])  # type: ignore[union-attr]
            return httpx.Response(answer.status_code, headers=answer.headers, content=content)

        return anyio.from_thread.run(exchange)


async def test_the_wsgi_middleware_signs_browsers_in_and_renews(
    world: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    """The sync twin drives the same flows: sign-in, renewal on time, the end of the grant."""
    transport = world["http"]._transport
    grants = tmp_path / "grants.toml"

    def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["REMOTE_USER"].encode()]

    def in_thread() -> None:
        authority = httpx.Client(transport=_Bridge(transport), base_url=LOCAL)
        verifier = Verifier(
            LOCAL, audience="web", grants=FileGrants(grants), http=authority, clock=clock
        )
        browser = BrowserSignIn(
            BrowserSettings(LOCAL, "web", world["secret"], (ORIGIN,)),
            verifier,
            http=authority,
            clock=clock,
        )
        app = JotWSGIMiddleware(hello, verifier=verifier, browser=browser)
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=ORIGIN) as site:
            first = site.get("/page?a=1")
            assert first.status_code == 302
            assert first.headers["location"] == "/.jot/signin?rd=%2Fpage%3Fa%3D1"
            assert site.post("/page").status_code == 401
            started = site.get(first.headers["location"])
            answer = authority.get(started.headers["location"])
            done = site.get(answer.headers["location"].removeprefix(ORIGIN))
            assert done.status_code == 303
            assert done.headers["location"] == f"{ORIGIN}/page?a=1"
            assert site.get("/page?a=1").text == "alice@example.com"
            before = site.cookies["__Host-jot_session"]
            clock.advance(250)  # Less than a minute left: renewed through the authority.
            renewed = site.get("/page")
            assert renewed.text == "alice@example.com"
            assert "__Host-jot_session=" in renewed.headers["set-cookie"]
            assert site.cookies["__Host-jot_session"] != before
            bearer = site.get("/page", headers={"Authorization": "Bearer x.y.z"})
            assert bearer.status_code == 401
            assert "location" not in bearer.headers
            # The grant goes at the authority: the next renewal is refused.
            listed = authority.get("/api/grants", params={"destination": "web"}, headers=admin)
            authority.delete(f"/api/grants/{listed.json()['items'][0]['id']}", headers=admin)
            clock.advance(300)
            ended = site.get("/page")
            assert ended.status_code == 302
            assert "Max-Age=0" in ended.headers["set-cookie"]

    admin = dict(world["admin"].headers)
    await anyio.to_thread.run_sync(in_thread)
