"""Talking to a provider: bounded time, bounded size, and JSON objects or a clear error."""

from __future__ import annotations

import json
from typing import Any

import httpx

from jot.authority.oidc.errors import ProviderUnavailable

__all__ = ["MAX_RESPONSE", "TIMEOUT", "client", "request_json"]

#: No provider answer that jot needs is anywhere near this large.
MAX_RESPONSE = 1024 * 1024
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def client() -> httpx.Client:
    """A client for one flow; redirects are not followed (OIDC endpoints do not redirect)."""
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)


def request_json(
    http: httpx.Client, method: str, url: str, *, what: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """``(status, body)``; the body must be a JSON object of at most :data:`MAX_RESPONSE`."""
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
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ProviderUnavailable(
            f"the provider's {what} answer (HTTP {status}) is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"the provider's {what} answer is not a JSON object")
    return status, body
