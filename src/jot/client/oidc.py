"""Logging in through the authority's OIDC providers, and managing those providers.

:func:`loopback_login` is the ``gh auth login`` / kubelogin pattern: a one-shot HTTP listener
on 127.0.0.1 receives the authority's redirect after the provider login, and the one-time code
is traded for an access key together with the PKCE verifier only this process knows.
:func:`device_login` is RFC 8628 for machines without a browser.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from html import escape
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from jot.api.providers import (
    DeviceAuthorization,
    DeviceStart,
    LoginExchange,
    Provider,
    ProviderCreate,
    ProviderList,
    ProviderNames,
    ProviderUpdate,
)
from jot.api.session import LoginResponse
from jot.client._core import Call, ClientError, body_of, request_body
from jot.client._sync import Client

__all__ = [
    "LOGIN_TIMEOUT",
    "device_login",
    "device_start",
    "device_token",
    "login_exchange",
    "login_url",
    "loopback_login",
    "provider_create",
    "provider_delete",
    "provider_get",
    "provider_names",
    "provider_update",
    "providers_list",
]

#: How long the loopback listener waits for the browser to come back.
LOGIN_TIMEOUT = 300.0
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _q(name: str) -> str:
    return quote(name, safe="")


def provider_names() -> Call[ProviderNames]:
    """The names of the providers one can log in through (no access key needed)."""
    return Call(
        "GET", "/api/oidc/providers", lambda r: ProviderNames.model_validate_json(r.content)
    )


def providers_list() -> Call[ProviderList]:
    return Call("GET", "/api/providers", lambda r: ProviderList.model_validate_json(r.content))


def provider_get(name: str) -> Call[Provider]:
    return Call(
        "GET", f"/api/providers/{_q(name)}", lambda r: Provider.model_validate_json(r.content)
    )


def provider_create(body: ProviderCreate) -> Call[Provider]:
    return Call(
        "POST",
        "/api/providers",
        lambda r: Provider.model_validate_json(r.content),
        json=request_body(body),
    )


def provider_update(name: str, body: ProviderUpdate) -> Call[Provider]:
    return Call(
        "PATCH",
        f"/api/providers/{_q(name)}",
        lambda r: Provider.model_validate_json(r.content),
        json=request_body(body),
    )


def provider_delete(name: str) -> Call[None]:
    return Call("DELETE", f"/api/providers/{_q(name)}", lambda _r: None)


def login_exchange(code: str, verifier: str) -> Call[LoginResponse]:
    body = body_of(LoginExchange, code=code, code_verifier=verifier)
    return Call(
        "POST",
        "/api/oidc/exchange",
        lambda r: LoginResponse.model_validate_json(r.content),
        json=body,
    )


def device_start(provider: str | None) -> Call[DeviceAuthorization]:
    return Call(
        "POST",
        "/api/oidc/device",
        lambda r: DeviceAuthorization.model_validate_json(r.content),
        json=body_of(DeviceStart, provider=provider),
    )


def device_token(device_code: str) -> Call[dict[str, Any]]:
    """One poll; the answer is the JSON body, success or an RFC 8628 error code."""
    return Call(
        "POST",
        "/api/oidc/device/token",
        lambda r: dict(r.json()),
        json={"grant_type": _DEVICE_GRANT, "device_code": device_code},
        ok=(200, 400),
    )


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def login_url(server: str, provider: str, redirect_uri: str, verifier: str) -> str:
    query = urlencode({"redirect_uri": redirect_uri, "code_challenge": _s256(verifier)})
    return f"{server}/oidc/{_q(provider)}/login?{query}"


class _Listener(HTTPServer):
    result: dict[str, str] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Listener

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        ok = "code" in params
        message = (
            "You are logged in; go back to your terminal."
            if ok
            else (
                "Login failed: "
                + (params.get("error_description") or params.get("error", "unknown error"))
            )
        )
        body = f"<!doctype html><title>jot login</title><p>{escape(message)}</p>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.server.result is None:
            self.server.result = params

    def log_message(self, format: str, *args: Any) -> None:
        return  # Quiet: the terminal belongs to the person logging in.


def loopback_login(
    client: Client,
    provider: str,
    *,
    open_url: Callable[[str], object],
    timeout: float = LOGIN_TIMEOUT,
) -> LoginResponse:
    """Run the browser login for the CLI; ``open_url`` opens (or prints) the login URL."""
    names = client.call(provider_names()).items
    if provider not in names:
        known = ", ".join(names) or "none"
        raise ClientError(404, "not_found", f"no provider named {provider!r} (known: {known})")
    verifier = secrets.token_urlsafe(48)
    with _Listener(("127.0.0.1", 0), _Handler) as listener:
        listener.timeout = 0.2
        redirect_uri = f"http://127.0.0.1:{listener.server_address[1]}/callback"
        open_url(login_url(client.server, provider, redirect_uri, verifier))
        deadline = time.monotonic() + timeout
        while listener.result is None:
            if time.monotonic() > deadline:
                raise ClientError(
                    0, "timeout", "no answer from the browser in time; run jot login again"
                )
            listener.handle_request()
        result = listener.result
    if "code" not in result:
        raise ClientError(
            400,
            result.get("error", "login_refused"),
            result.get("error_description", "login refused"),
        )
    return client.call(login_exchange(result["code"], verifier))


def device_login(
    client: Client,
    provider: str | None,
    *,
    show: Callable[[DeviceAuthorization], object],
    sleep: Callable[[float], object] = time.sleep,
    stop: threading.Event | None = None,
) -> LoginResponse:
    """RFC 8628: show the user code and URL, then poll until the login is done or refused."""
    start = client.call(device_start(provider))
    show(start)
    interval = float(start.interval)
    deadline = time.monotonic() + start.expires_in
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        sleep(interval)
        answer = client.call(device_token(start.device_code))
        error = answer.get("error")
        if error is None:
            return LoginResponse.model_validate(answer)
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            raise ClientError(400, str(error), str(answer.get("message") or error))
    raise ClientError(400, "expired_token", "the device code expired; run jot login --device again")
