"""Browser sign-in at a destination: a person without a session is sent to sign in at the
authority (one sign-in serves every destination), comes back with a one-time code, and gets
a short cookie that holds the current 5-minute jot and a refresh handle, sealed under a key
only this destination holds (:mod:`jot.destination.browser_cookie`). The jot is renewed
through the authority before it expires; the authority checks the grant again each time.

Every decision is made once, in :mod:`jot.destination.browser_flow`; the two classes here
only do its I/O: :class:`BrowserSignIn` with a :class:`Verifier` and ``httpx.Client`` (the
WSGI middleware), :class:`AsyncBrowserSignIn` with an :class:`AsyncVerifier` and
``httpx.AsyncClient`` (forward auth, the generic proxy, the ASGI middleware)::

    settings = BrowserSettings(issuer, "web", client_secret, ("https://web.example",))
    browser = AsyncBrowserSignIn(settings, verifier)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from jot.destination.browser_cookie import Session
from jot.destination.browser_flow import (
    PREFIX,
    RENEW_BEFORE,
    SESSION_LIFE,
    BrowserFlows,
    BrowserSettings,
    Fetch,
    Flow,
    Gate,
    Headers,
    Keys,
    Page,
    Renew,
    Scope,
    Verify,
    sign_in_location,
)
from jot.destination.identity import Identity
from jot.destination.verifier import AsyncVerifier, Verifier

__all__ = [
    "PREFIX",
    "RENEW_BEFORE",
    "SESSION_LIFE",
    "AsyncBrowserSignIn",
    "BrowserSettings",
    "BrowserSignIn",
    "Gate",
    "sign_in_location",
]

T = TypeVar("T")
_TIMEOUT = 10.0


class _Twin:
    def __init__(self, settings: BrowserSettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.flows = BrowserFlows(settings, clock)
        self.jar = self.flows.jar

    def _auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.settings.client_id, self.settings.client_secret)

    def challenge(self, scope: Scope) -> tuple[int, Headers]:
        return self.flows.challenge(scope)


def _next(flow: Flow[T], value: Any, error: Exception | None) -> tuple[Any, bool]:
    """Resume ``flow`` with a step's result or error: (the next step, False) or (its
    result, True)."""
    try:
        return (flow.throw(error) if error is not None else flow.send(value)), False
    except StopIteration as stop:
        return stop.value, True


class BrowserSignIn(_Twin):
    """The sync twin, for WSGI apps: renewals of one session in two threads at once each
    ask the authority (the refresh handle stays valid; it costs one request)."""

    def __init__(
        self,
        settings: BrowserSettings,
        verifier: Verifier,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(verifier, Verifier):
            raise ValueError(
                "BrowserSignIn needs a (sync) Verifier; AsyncBrowserSignIn takes async"
            )
        super().__init__(settings, clock)
        self.verifier = verifier
        self._http = http or httpx.Client(timeout=_TIMEOUT)

    def run(self, flow: Flow[T]) -> T:
        value: Any = None
        error: Exception | None = None
        while True:
            step, done = _next(flow, value, error)
            if done:
                return step  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = self._do(step)
            except Exception as exc:  # Raised inside the flow, where the step was yielded.
                error = exc

    def _do(self, step: Fetch | Verify | Keys | Renew) -> Any:
        if isinstance(step, Verify):
            return self.verifier.verify(step.token, resource=step.resource)
        if isinstance(step, Keys):
            return self.verifier.jwks.get(step.kid)
        if isinstance(step, Renew):
            return self.run(self.flows.refresh(step.session))
        if step.form is None:
            return self._http.get(step.url)
        return self._http.post(step.url, data=step.form, auth=self._auth())

    def identity(self, scope: Scope, resource: str | None) -> tuple[Identity | None, Headers]:
        return self.run(self.flows.identity(scope, resource))

    def endpoint(self, scope: Scope) -> Page:
        return self.run(self.flows.endpoint(scope))

    def gate(self, scope: Scope, *, optional: bool = False) -> Gate | None:
        return self.run(self.flows.gate(scope, optional=optional))

    def close(self) -> None:
        self._http.close()


class AsyncBrowserSignIn(_Twin):
    """The async twin: forward auth, the generic proxy, the ASGI middleware."""

    def __init__(
        self,
        settings: BrowserSettings,
        verifier: AsyncVerifier,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(verifier, AsyncVerifier):
            raise ValueError("AsyncBrowserSignIn needs an AsyncVerifier; BrowserSignIn takes sync")
        super().__init__(settings, clock)
        self.verifier = verifier
        self._http = http or httpx.AsyncClient(timeout=_TIMEOUT)
        # Requests that arrive together with the same stale cookie share one renewal.
        self._renewing: dict[str, asyncio.Task[Session | None]] = {}

    async def run(self, flow: Flow[T]) -> T:
        value: Any = None
        error: Exception | None = None
        while True:
            step, done = _next(flow, value, error)
            if done:
                return step  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = await self._do(step)
            except Exception as exc:  # Raised inside the flow, where the step was yielded.
                error = exc

    async def _do(self, step: Fetch | Verify | Keys | Renew) -> Any:
        if isinstance(step, Verify):
            return await self.verifier.verify(step.token, resource=step.resource)
        if isinstance(step, Keys):
            return await self.verifier.jwks.aget(step.kid)
        if isinstance(step, Renew):
            return await self._renew(step.session)
        if step.form is None:
            return await self._http.get(step.url)
        return await self._http.post(step.url, data=step.form, auth=self._auth())

    async def _renew(self, session: Session) -> Session | None:
        task = self._renewing.get(session.refresh)
        if task is None:
            task = asyncio.ensure_future(self.run(self.flows.refresh(session)))
            self._renewing[session.refresh] = task
            task.add_done_callback(lambda _t: self._renewing.pop(session.refresh, None))
        return await asyncio.shield(task)

    async def identity(self, scope: Scope, resource: str | None) -> tuple[Identity | None, Headers]:
        return await self.run(self.flows.identity(scope, resource))

    async def endpoint(self, scope: Scope) -> Page:
        return await self.run(self.flows.endpoint(scope))

    async def gate(self, scope: Scope, *, optional: bool = False) -> Gate | None:
        return await self.run(self.flows.gate(scope, optional=optional))

    async def aclose(self) -> None:
        await self._http.aclose()
