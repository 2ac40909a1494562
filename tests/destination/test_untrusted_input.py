"""No input from an unauthenticated client makes a destination answer 500 or log a traceback.

Every front end gets random and adversarial bytes (hypothesis): forward auth, the ASGI and
WSGI middleware, the TokenReview webhook, and the generic and Kubernetes proxies (raw bytes on
a socket, to the real upstream of rawhttp.py). The only answers allowed are 200, 400, 401, 403
and 503, and nothing may be logged at ERROR with an exception.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from jot.destination.asgi import JotAuthMiddleware
from jot.destination.forward_auth import ForwardAuth
from jot.destination.grants import GrantIndex
from jot.destination.proxy_headers import IdentityHeaders
from jot.destination.settings import KubernetesNames
from jot.destination.verifier import AsyncVerifier, Verifier
from jot.destination.webhook import API_VERSION, TokenReviewApp
from jot.destination.wsgi import JotWSGIMiddleware
from jot.jose import KeySet, jws

from .authority import FakeAuthority
from .rawhttp import exchange, run_proxy, status_of, upstream

ALLOWED = {200, 400, 401, 403, 503}
EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

AUTHORITY = FakeAuthority()
AUTHORITY.set_grants([("group:ops", "admin", "web"), ("group:ops", "admin", "k8s")])
SIGNER = AUTHORITY.signing_key
KID = SIGNER.kid or ""
# Static keys and grants: no I/O, so one verifier serves every example (and event loop).
SOURCES: dict[str, Any] = {
    "issuer": AUTHORITY.issuer,
    "jwks": KeySet([SIGNER.public()]),
    "grants": GrantIndex(AUTHORITY.grants),
}


def async_verifier(audience: str) -> AsyncVerifier:
    return AsyncVerifier(audience=audience, **SOURCES)


FORWARD_AUTH = ForwardAuth(async_verifier("web"))
WEBHOOK = TokenReviewApp(async_verifier("k8s"), names=KubernetesNames(group_prefix="jot:"))


async def _ok(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


MIDDLEWARE = JotAuthMiddleware(Starlette(routes=[Route("/x", _ok)]), verifier=async_verifier("web"))


def _wsgi_ok(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


WSGI = JotWSGIMiddleware(_wsgi_ok, verifier=Verifier(audience="web", **SOURCES))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(payload: bytes, header: dict[str, Any] | None = None) -> str:
    """A token the authority's key really signed, over any payload bytes."""
    return jws.sign_compact(payload, SIGNER, headers=header or {"typ": "jot+jwt"})


# -- what an attacker sends -------------------------------------------------------------

HOSTILE_JSON = [
    b"[" * 1500 + b"]" * 1500,
    b'{"a":' * 1500 + b"1" + b"}" * 1500,
    b'{"kid":"x","kid":"y","alg":"EdDSA"}',
    b'{"alg":"EdDSA","kid":NaN}',
    b'{"alg":"EdDSA","kid":1e400}',
    b'{"alg":"EdDSA","kid":"\\udc00"}',
    b'{"alg":"none"}',
    b'{"alg":"HS256","kid":"' + KID.encode() + b'"}',
    b"\xff\xfe{}",
    b"1" * 5000,
    b"null",
    b"",
]
CLAIMS = {"iss": AUTHORITY.issuer, "sub": "u_alice", "aud": "web", "name": "alice@example.com",
          "groups": ["ops"], "iat": 1, "nbf": 1, "exp": 4102444800, "jti": "j"}  # fmt: skip
WEIRD_CLAIMS = [
    {"exp": 1e300}, {"exp": 10**400}, {"exp": -(10**400)}, {"iat": 10**30}, {"nbf": "soon"},
    {"name": 5}, {"name": None}, {"groups": "ops"}, {"groups": [1]}, {"groups": None},
    {"sub": ""}, {"sub": 7}, {"jti": ["x"]}, {"aud": ["web", "k8s"]}, {"aud": 5},
    {"name": "system:kube-proxy"}, {"name": "x" * 5000}, {"name": "é\u202e\x00"},
]  # fmt: skip


def _weird(change: dict[str, Any], audience: str) -> str:
    claims = {**CLAIMS, "aud": audience, **change}
    return signed(json.dumps(claims).encode())


def tokens(audience: str) -> st.SearchStrategy[str]:
    good = st.sampled_from([
        AUTHORITY.token(aud=audience), AUTHORITY.token(aud=audience, exp=1),
        AUTHORITY.token(aud="other"), AUTHORITY.token(aud=audience, groups=[]),
        AUTHORITY.token(aud=audience, name="system:kube-controller-manager"),
    ])  # fmt: skip
    return st.one_of(
        good,
        good,  # Listed twice: drawn more often, so that many requests get past the token.
        st.sampled_from(WEIRD_CLAIMS).map(lambda change: _weird(change, audience)),
        st.sampled_from(HOSTILE_JSON).map(lambda raw: signed(raw)),
        st.tuples(st.sampled_from(HOSTILE_JSON), st.sampled_from(HOSTILE_JSON)).map(
            lambda pair: f"{b64(pair[0])}.{b64(pair[1])}.{b64(b'sig')}"
        ),
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=300),
        st.binary(max_size=300).map(b64),
    )


def authorizations(audience: str) -> st.SearchStrategy[list[str]]:
    value = st.one_of(
        tokens(audience).map(lambda token: "Bearer " + token),
        st.sampled_from(["Bearer", "Bearer ", "bearer  x", "Basic eDp5", "", "Bearer a b"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=80),
    )
    one = value.map(lambda v: [v])
    return st.one_of(one, one, st.lists(value, max_size=3))


_PLAIN_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=20)
HEADER_NAME = st.one_of(
    _PLAIN_NAME,
    st.sampled_from(["X-Jot-User", "X_Jot_User", "Impersonate-Group", "X-Remote-User",
                     "Connection", "Upgrade", "Expect", "Host", "TE", "Keep-Alive",
                     "X Bad", "X-Bad ", "Ümlaut", "(", "Content_Length"]),
)  # fmt: skip
HEADER_VALUE = st.one_of(
    st.sampled_from(["upgrade", "h2c", "websocket", "SPDY/3.1", "100-continue",
                     "close, X-Jot-User", "system:masters", "chunked"]),
    st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=255,
                                   blacklist_characters="\r\n"), max_size=60),
)  # fmt: skip
HEADERS = st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=4)


# -- the front ends ---------------------------------------------------------------------


@pytest.fixture
def no_error_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO)
    yield
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert not bad, bad[0].getMessage()


async def _asgi_status(app: Any, method: str, headers: list[tuple[str, str]], body: bytes) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dest") as client:
        encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        response = await client.request(method, "/x", headers=encoded, content=body)
        return response.status_code


def _header_list(authorization: list[str], extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # httpx refuses header names it cannot send; this is about the values that arrive.
    usable = [(k, v) for k, v in extra if k.isascii() and k.isprintable() and " " not in k]
    return [*usable, *(("Authorization", value) for value in authorization)]


@pytest.mark.anyio
@pytest.mark.parametrize("app", [FORWARD_AUTH, MIDDLEWARE], ids=["forward-auth", "asgi"])
@EXAMPLES
@given(authorization=authorizations("web"), extra=HEADERS)
async def test_forward_auth_and_asgi_middleware(no_error_logs, app, authorization, extra):
    status = await _asgi_status(app, "GET", _header_list(authorization, extra), b"")
    assert status in ALLOWED
    event(f"status {status}")


def _wsgi_status(authorization: str | None) -> tuple[str, dict[str, str]]:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    answer: list[Any] = []
    b"".join(WSGI(environ, lambda status, headers, *_: answer.extend([status, dict(headers)])))
    return answer[0], answer[1]


@EXAMPLES
@given(authorization=authorizations("web"), joiner=st.sampled_from([", ", ","]))
def test_wsgi_middleware(no_error_logs, authorization, joiner):
    # The server joins repeated headers, as gunicorn and werkzeug do.
    status, _ = _wsgi_status(joiner.join(authorization) if authorization else None)
    assert int(status.split()[0]) in ALLOWED
    event(f"status {status}")


def _reviews() -> st.SearchStrategy[bytes]:
    review = st.fixed_dictionaries(
        {
            "apiVersion": st.sampled_from([API_VERSION, "authentication.k8s.io/v1beta1", "x"]),
            "kind": st.sampled_from(["TokenReview", "Pod"]),
            "spec": st.fixed_dictionaries(
                {"token": st.one_of(tokens("k8s"), st.integers(), st.none())},
                optional={"audiences": st.one_of(st.lists(st.text(max_size=5)), st.text())},
            ),
        }
    ).map(lambda body: json.dumps(body).encode())
    return st.one_of(review, st.sampled_from(HOSTILE_JSON), st.binary(max_size=2000))


@pytest.mark.anyio
@EXAMPLES
@given(body=_reviews())
async def test_webhook(no_error_logs, body):
    status = await _asgi_status(WEBHOOK, "POST", [], body)
    assert status in ALLOWED
    event(f"status {status}")


# -- the proxies, over a socket ----------------------------------------------------------


@pytest.fixture(scope="module")
def proxies() -> Iterator[dict[str, int]]:
    k8s = IdentityHeaders(kubernetes=True, role_prefix="jot:role:")
    with (
        upstream() as up,
        run_proxy(AUTHORITY, up.url) as generic,
        run_proxy(AUTHORITY, up.url, rendering=k8s) as kubernetes,
    ):
        yield {"web": generic, "k8s": kubernetes}


FRAMING = st.sampled_from([
    ([], b""), ([], b""), ([], b""), ([("Content-Length", "3")], b"abc"),
    ([("Content-Length", "1")], b"abc"),
    ([("Transfer-Encoding", "chunked")], b"3\r\nabc\r\n0\r\n\r\n"),
    ([("Transfer-Encoding", "chunked"), ("Content-Length", "3")], b"3\r\nabc\r\n0\r\n\r\n"),
    ([("Content-Length", "3"), ("Content-Length", "2")], b"abc"),
    ([("Transfer-Encoding", "gzip")], b"abc"), ([("Transfer-Encoding", "chunked")], b"zz\r\n"),
])  # fmt: skip
TARGETS = st.sampled_from(["/", "/", "/api/v1/namespaces?watch=1", "http://evil/", "*", "//x"])


def _raw(target: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"POST {target} HTTP/1.1", "Host: proxy", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@EXAMPLES
@given(data=st.data(), target=TARGETS, extra=HEADERS, framing=FRAMING)
def test_proxies(no_error_logs, proxies, data, target, extra, framing):
    mode = data.draw(st.sampled_from(["web", "k8s"]))
    authorization = data.draw(authorizations(mode))
    framing_headers, body = framing
    # Header lines are sent as they are (latin-1, what HTTP/1.1 carries); line breaks in a
    # value would only start other requests.
    authorization = [value for value in authorization if value.isprintable()]
    headers = [*extra, *framing_headers, *(("Authorization", v) for v in authorization)]
    answer = exchange(proxies[mode], _raw(target, headers, body), timeout=10)
    assert status_of(answer) in ALLOWED, answer[:200]
    event(f"status {status_of(answer)}")


# -- the reported cases, by name ------------------------------------------------------------

NESTED = f"{b64(b'[' * 1500)}.{b64(b'{}')}.{b64(b'sig')}"  # A 2 KB header: 1,500 nested "["


@pytest.mark.anyio
async def test_a_deeply_nested_token_header_is_401_everywhere(no_error_logs, proxies):
    headers = [("Authorization", "Bearer " + NESTED)]
    assert await _asgi_status(FORWARD_AUTH, "GET", headers, b"") == 401
    assert await _asgi_status(MIDDLEWARE, "GET", headers, b"") == 401
    for port in proxies.values():
        assert status_of(exchange(port, _raw("/", headers, b""))) == 401
    assert _wsgi_status("Bearer " + NESTED)[0] == "401 Unauthorized"
    review = {"apiVersion": API_VERSION, "kind": "TokenReview", "spec": {"token": NESTED}}
    transport = httpx.ASGITransport(app=WEBHOOK)
    async with httpx.AsyncClient(transport=transport, base_url="http://dest") as client:
        answer = await client.post("/", json=review)
    assert answer.json()["status"] == {"authenticated": False, "error": "invalid token"}


# Made at import, perhaps minutes before use in a long run: valid until 2100.
ALICE = "Bearer " + AUTHORITY.token(aud="web", exp=4102444800)
BOB = "Bearer " + AUTHORITY.token(aud="web", exp=4102444800, name="bob@example.com", groups=[])


@pytest.mark.anyio
@pytest.mark.parametrize(
    "values", [[ALICE, BOB], [BOB, ALICE], [ALICE, ALICE], [f"{ALICE}, {BOB}"], [f"{BOB},{ALICE}"]]
)
async def test_two_credentials_are_400_in_every_front_end(no_error_logs, proxies, values):
    # Forward auth took the last one, the proxy and the middleware the first.
    headers = [("Authorization", value) for value in values]
    challenge = 'Bearer realm="web", error="invalid_request"'
    for app in (FORWARD_AUTH, MIDDLEWARE):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dest") as client:
            response = await client.get("/x", headers=headers)
        assert response.status_code == 400
        assert response.headers["www-authenticate"] == challenge
    assert status_of(exchange(proxies["web"], _raw("/", headers, b""))) == 400
    status, wsgi_headers = _wsgi_status(", ".join(values))  # As WSGI servers join them.
    assert status == "400 Bad Request"
    assert wsgi_headers["www-authenticate"] == challenge


def test_one_credential_with_commas_of_its_own_is_not_two():
    # Digest's parameters are "name=value" after a comma: not a second credential.
    status, _ = _wsgi_status('Digest username="a", realm="b", nonce="c"')
    assert status == "401 Unauthorized"
    assert _wsgi_status(ALICE)[0] == "200 OK"


def _challenge(answer: bytes) -> str | None:
    for line in answer.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"www-authenticate":
            return value.strip().decode()
    return None


REFUSALS = [
    ([], 401, 'Bearer realm="web"', "no token"),
    (["Basic YTpi"], 401, 'Bearer realm="web"', "no token"),
    (["Bearer " + NESTED], 401, 'Bearer realm="web", error="invalid_token"', "invalid token"),
    ([BOB], 403, None, "no grant at this destination"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("values", "status", "challenge", "reason"), REFUSALS)
async def test_each_refusal_is_answered_alike_in_every_front_end(
    no_error_logs, proxies, values, status, challenge, reason
):
    # One decision (destination._core.refuse): the same status and challenge everywhere.
    headers = [("Authorization", value) for value in values]
    for app in (FORWARD_AUTH, MIDDLEWARE):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dest") as client:
            response = await client.get("/x", headers=headers)
        assert response.status_code == status
        assert response.headers.get("www-authenticate") == challenge
    answer = exchange(proxies["web"], _raw("/", headers, b""))
    assert (status_of(answer), _challenge(answer)) == (status, challenge)
    wsgi_status, wsgi_headers = _wsgi_status(", ".join(values) if values else None)
    assert int(wsgi_status.split()[0]) == status
    assert wsgi_headers.get("www-authenticate") == challenge
    # The webhook answers 200 with the same reason; a request without a token has none.
    token = values[0].removeprefix("Bearer ") if values and values[0].startswith("Bearer") else ""
    review = {"apiVersion": API_VERSION, "kind": "TokenReview", "spec": {"token": token}}
    if token and status == 403:
        review["spec"]["token"] = AUTHORITY.token(aud="k8s", exp=4102444800, groups=[])
    transport = httpx.ASGITransport(app=WEBHOOK)
    async with httpx.AsyncClient(transport=transport, base_url="http://dest") as client:
        answer_json = (await client.post("/", json=review)).json()
    assert answer_json["status"] == {"authenticated": False, "error": reason}


@pytest.mark.parametrize(
    "name", ["a\x00b", "é\u202e\x00", "x\r\nImpersonate-Group: system:masters"]
)
def test_an_identity_no_header_can_carry_is_403_at_the_kubernetes_proxy(
    no_error_logs, proxies, name
):
    # A signed name with a control character cannot become Impersonate-User: refused with an
    # answer (the connection used to close with none).
    token = AUTHORITY.token(aud="k8s", exp=4102444800, name=name)
    answer = exchange(proxies["k8s"], _raw("/api", [("Authorization", "Bearer " + token)], b""))
    assert status_of(answer) == 403, answer[:200]
