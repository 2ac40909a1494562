"""Talking to a provider: bounded time, bounded size, and JSON objects or a clear error."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import httpx

from jot.api.untrusted import UntrustedJSONError, loads
from jot.authority.oidc.errors import ProviderUnavailable

__all__ = ["MAX_RESPONSE", "TIMEOUT", "client", "request_json", "secure_url"]

#: No provider answer that jot needs is anywhere near this large.
MAX_RESPONSE = 1024 * 1024
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def secure_url(url: str) -> bool:
    """Whether jot may talk to a provider at ``url``: https, or plain http on a loopback
    address only (a provider under test on this machine). Anywhere else, http would let the
    network change the provider's keys and answers."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme == "https" and host:
        return True
    if parts.scheme != "http":
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client() -> httpx.Client:
    """A client for one flow; redirects are not followed (OIDC endpoints do not redirect)."""
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)


def request_json(
    http: httpx.Client, method: str, url: str, *, what: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """``(status, body)``; the body must be a JSON object of at most :data:`MAX_RESPONSE`."""
    if not secure_url(url):
        raise ProviderUnavailable(
            f"the provider's {what} URL is not https (only loopback may be http)"
        )
    try:
        with http.stream(method, url, **kwargs) as response:
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_RESPONSE:
                    raise ProviderUnavailable(f"the provider's {what} answer is too large")
            status = response.status_code
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(
            f"cannot reach the provider for its {what} ({type(exc).__name__})"
        ) from exc
    try:
        body = loads(bytes(data), max_bytes=MAX_RESPONSE)
    except UntrustedJSONError:
        raise ProviderUnavailable(
            f"the provider's {what} answer (HTTP {status}) is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"the provider's {what} answer is not a JSON object")
    return status, body
