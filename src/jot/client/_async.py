"""The asyncio client: the twin of :class:`jot.client.Client`."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

import httpx

from jot.api import GrantList, TokenResponse
from jot.api.session import LoginResponse, WhoAmI
from jot.client import ops
from jot.client._core import Call, ConnectError, finish, normalise_server, request_args

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """Talk to one authority. ``transport`` lets tests use ``httpx.ASGITransport`` and
    friends; ``access_key`` authenticates every call once set (``login`` sets it)."""

    def __init__(
        self,
        server: str,
        access_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        verify: bool | str = True,
    ) -> None:
        self.server = normalise_server(server)
        self.access_key = access_key
        self._http = httpx.AsyncClient(
            base_url=self.server, transport=transport, timeout=timeout, verify=verify
        )

    async def call(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method, call.path, **request_args(call, self.access_key)
            )
        except httpx.HTTPError as exc:
            raise ConnectError(f"cannot reach {self.server}: {exc}") from exc
        return finish(call, response)

    async def login(self, name: str, password: str) -> LoginResponse:
        result = await self.call(ops.login(name, password))
        self.access_key = result.access_key
        return result

    async def logout(self) -> None:
        await self.call(ops.logout())

    async def change_password(
        self, current: str, new: str, *, revoke_other_keys: bool = False
    ) -> None:
        """Set this identity's own password (the current one is checked); with
        ``revoke_other_keys``, every other access key of this identity is revoked."""
        await self.call(ops.change_password(current, new, revoke_other_keys=revoke_other_keys))

    async def whoami(self) -> WhoAmI:
        return await self.call(ops.whoami())

    async def token(self, destination: str) -> TokenResponse:
        return await self.call(ops.token(destination))

    async def grants(
        self, destination: str, *, etag: str | None = None, wait: float = 0
    ) -> tuple[GrantList | None, str | None]:
        """The grants of ``destination`` and their ETag; ``(None, etag)`` when unchanged."""
        return await self.call(ops.grants_watch(destination, etag=etag, wait=wait))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
