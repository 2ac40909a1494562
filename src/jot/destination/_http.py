"""The I/O half of the sans-I/O flows: drive a request/response generator with httpx.

A flow is a generator that yields :class:`httpx.Request` objects and receives the matching
:class:`httpx.Response` (body already read, size-capped). The decisions stay in the flow; these
two drivers, one sync and one async, only move bytes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from jot.destination.errors import UnavailableError

__all__ = ["Flow", "ResponseTooLarge", "check_url", "drive", "drive_async", "is_loopback"]

T = TypeVar("T")
Flow = Generator[httpx.Request, httpx.Response, T]


class ResponseTooLarge(UnavailableError):
    """The authority answered with more bytes than the cap allows."""

    error = "response_too_large"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses, where plain http is acceptable."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str = "URL") -> str:
    """Refuse anything but https, except http to a loopback host (tests, sidecars)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return url
    raise ValueError(f"{what} must be https (or http to a loopback address): {url!r}")


def _capped(chunks: list[bytes], chunk: bytes, total: int, max_bytes: int) -> int:
    total += len(chunk)
    if total > max_bytes:
        raise ResponseTooLarge(f"response larger than {max_bytes} bytes")
    chunks.append(chunk)
    return total


def _rebuilt(response: httpx.Response, chunks: list[bytes]) -> httpx.Response:
    # The chunks are already decoded (so the cap counts decompressed bytes, not a zip bomb's
    # compressed size); drop the headers that described the encoded body.
    headers = [
        (k, v)
        for k, v in response.headers.multi_items()
        if k.lower() not in {"content-encoding", "content-length", "transfer-encoding"}
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=b"".join(chunks), request=response.request
    )


def _send(client: httpx.Client, request: httpx.Request, max_bytes: int) -> httpx.Response:
    response = client.send(request, stream=True)
    try:
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_bytes():
            total = _capped(chunks, chunk, total, max_bytes)
    finally:
        response.close()
    return _rebuilt(response, chunks)


async def _send_async(
    client: httpx.AsyncClient, request: httpx.Request, max_bytes: int
) -> httpx.Response:
    response = await client.send(request, stream=True)
    try:
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.aiter_bytes():
            total = _capped(chunks, chunk, total, max_bytes)
    finally:
        await response.aclose()
    return _rebuilt(response, chunks)


def drive(client: httpx.Client, flow: Flow[T], max_bytes: int) -> T:
    """Run ``flow`` to completion over a sync client and return its result."""
    request = next(flow)
    while True:
        response = _send(client, request, max_bytes)
        try:
            request = flow.send(response)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


async def drive_async(client: httpx.AsyncClient, flow: Flow[T], max_bytes: int) -> T:
    """Run ``flow`` to completion over an async client and return its result."""
    request = next(flow)
    while True:
        response = await _send_async(client, request, max_bytes)
        try:
            request = flow.send(response)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
