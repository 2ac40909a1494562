"""`Verifier` and `AsyncVerifier`: a bearer token in, an :class:`Identity` with roles out.

Both are thin I/O shells around :class:`~jot.destination._core.VerifierCore`::

    verifier = Verifier("https://auth.example", audience="web", access_key=KEY)
    identity = verifier.verify(token)            # raises InvalidTokenError → answer 401
    identity.roles                               # from the grants, at this moment

A destination that registered an encryption key passes its private half as
``decrypt_with=``: tokens must then be sealed to it (signed, then encrypted), and are opened
before they are checked; ``accept_unsealed=True`` takes signed-only ones too, for the switch.

Keys come from the issuer's JWKS (found by OpenID discovery), an explicit ``jwks_uri``, or a
static ``jwks``. Grants come from ``grants=`` (for example :class:`FileGrants`) or, when an
issuer is given, from the authority. Without either, identities carry no roles.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from jot.destination._core import VerifierCore, VerifierSettings, decryption_keys
from jot.destination.cache import VerificationCache
from jot.destination.errors import ReplayedTokenError, RevokedTokenError
from jot.destination.grants import FileGrants, GrantIndex, GrantSource
from jot.destination.grants_client import AsyncAuthorityGrants, AuthorityGrants
from jot.destination.identity import Identity
from jot.destination.jwks import AsyncJWKSClient, JWKSClient, JWKSPolicy, StaticJWKS
from jot.destination.settings import CACHE_SIZE, DEFAULT_ALGORITHMS, MAX_CLOCK_SKEW
from jot.destination.stores import (
    AsyncDenyList,
    AsyncReplayStore,
    DenyList,
    ReplayStore,
)
from jot.jose import Key, KeySet

__all__ = ["AsyncVerifier", "Verifier"]


class _Base:
    def __init__(
        self,
        issuer: str | None,
        *,
        audience: str,
        jwks: KeySet | dict[str, Any] | None,
        algorithms: tuple[str, ...],
        typ: str | None,
        leeway: float,
        keep_system_groups: bool,
        cache_size: int,
        clock: Callable[[], float],
        decrypt_with: Key | KeySet | None = None,
        accept_unsealed: bool = False,
    ) -> None:
        from jot.api import TOKEN_TYPE

        self.settings = VerifierSettings(
            audience=audience, issuer=issuer, algorithms=tuple(algorithms),
            typ=typ or TOKEN_TYPE, leeway=leeway, keep_system_groups=keep_system_groups,
            decrypt_with=None if decrypt_with is None else decryption_keys(decrypt_with),
            accept_unsealed=accept_unsealed,
        )  # fmt: skip
        cache = VerificationCache(cache_size) if cache_size > 0 else None
        self.core = VerifierCore(self.settings, cache)
        self.static = StaticJWKS(jwks) if jwks is not None else None
        self._clock = clock

    @property
    def cache(self) -> VerificationCache | None:
        return self.core.cache


#: The "grants" of a verifier without any: nothing ever changes, no roles.
_NO_GRANTS = object()


def _grants_now(grants: object) -> object:
    """What a remembered decision must have been made under to be reused: the source's
    current grant index (None: unknown, decide every time)."""
    if grants is None:
        return _NO_GRANTS
    return getattr(grants, "index", None)


def _check_revoked(index: object, claims: dict[str, Any], now: float) -> None:
    """Refuse a token that the authority revoked (``jot revoke``): the deny entries come with
    the grants (``index``, :func:`_grants_now`), so every destination has them as soon as its
    long-poll answers."""
    if isinstance(index, GrantIndex) and index.revoked(claims["sub"], claims["jti"], now=now):
        raise RevokedTokenError("the token has been revoked at the authority")


#: The sources that take the time (``now=``) from the verifier's clock.
_TIMED = (GrantIndex, FileGrants, AuthorityGrants, AsyncAuthorityGrants)


def _roles_for(
    source: GrantSource, name: str, groups: list[str], resource: str, now: float
) -> frozenset[str]:
    """The source's roles at ``now`` (the verifier's clock); a source of one's own, whose
    ``roles_for`` takes no time, at its own."""
    if isinstance(source, _TIMED):
        return source.roles_for(name, groups, resource, now=now)
    return source.roles_for(name, groups, resource)


def _below(
    grants: object, claims: dict[str, Any], resource: str, now: float
) -> tuple[Mapping[str, frozenset[str]], float | None]:
    """Roles on sub-resources below ``resource`` (a Kubernetes destination's namespaces), and
    when the next of the caller's time-bound grants lapses, from the source's current index;
    nothing from a source without one."""
    index = getattr(grants, "index", None)
    if not isinstance(index, GrantIndex):
        return {}, None
    name, groups = claims.get("name") or claims["sub"], claims.get("groups") or []
    answer = index.answer(name, groups, resource, now=now)
    return answer.below, answer.until


def _sources(issuer: str | None, jwks: object, jwks_uri: str | None) -> None:
    if jwks is None and issuer is None and jwks_uri is None:
        raise ValueError("give an issuer, a jwks_uri or a static jwks")


class Verifier(_Base):
    """Verifies tokens for one destination; thread-safe; for sync (WSGI) code."""

    def __init__(
        self,
        issuer: str | None = None,
        *,
        audience: str,
        jwks: KeySet | dict[str, Any] | None = None,
        jwks_uri: str | None = None,
        grants: GrantSource | None = None,
        access_key: str | None = None,
        deny_list: DenyList | None = None,
        replay: ReplayStore | None = None,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        typ: str | None = None,
        leeway: float = MAX_CLOCK_SKEW,
        keep_system_groups: bool = False,
        cache_size: int = CACHE_SIZE,
        jwks_policy: JWKSPolicy | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        decrypt_with: Key | KeySet | None = None,
        accept_unsealed: bool = False,
    ) -> None:
        _sources(issuer, jwks, jwks_uri)
        super().__init__(
            issuer, audience=audience, jwks=jwks, algorithms=algorithms, typ=typ, leeway=leeway,
            keep_system_groups=keep_system_groups, cache_size=cache_size, clock=clock,
            decrypt_with=decrypt_with, accept_unsealed=accept_unsealed,
        )  # fmt: skip
        self.jwks = self.static or JWKSClient(
            issuer=None if jwks_uri else issuer, jwks_uri=jwks_uri, policy=jwks_policy,
            http=http, clock=clock,
        )  # fmt: skip
        if grants is None and issuer is not None and access_key is not None:
            grants = AuthorityGrants(issuer, audience, access_key=access_key, http=http)
        self.grants = grants
        self.deny_list = deny_list
        self.replay = replay

    def close(self) -> None:
        """Stop the background grants refresh, if any, and close the HTTP clients."""
        if isinstance(self.grants, AuthorityGrants):
            self.grants.close()
        if isinstance(self.jwks, JWKSClient):
            self.jwks.close()

    def verify(self, token: str, *, resource: str | None = None) -> Identity:
        """The identity in ``token`` with its roles at ``resource`` (default: this
        destination). Raises :class:`InvalidTokenError` (401) or ``UnavailableError`` (503)."""
        resource = self.settings.resource(resource)
        now = self._clock()
        entry, kid = self.core.lookup(token, now, self.jwks.names)
        if entry is None:
            inner, kid = self.core.unseal(token, kid)
            entry = self.core.check(inner, token, self.jwks.get(kid), now)
        claims = entry.claims
        if self.deny_list is not None and self.deny_list.is_denied(claims["jti"], claims["sub"]):
            raise RevokedTokenError("the token has been revoked")
        grants = _grants_now(self.grants)
        _check_revoked(grants, claims, now)
        if self.replay is not None and not self.replay.first_use(claims["jti"], entry.exp):
            raise ReplayedTokenError("the token has been used before")
        remembered = self.core.remembered(entry, resource, grants, now)
        if remembered is not None:
            return remembered
        # Roles come from every group of the token: a grant that names a system: group is
        # the operator's explicit decision. The identity's groups are filtered afterwards.
        roles = frozenset[str]()
        granted: frozenset[str] = frozenset()
        if self.grants is not None:
            name = claims.get("name") or claims["sub"]
            roles = _roles_for(self.grants, name, claims.get("groups") or [], resource, now)
            granted = self.grants.mentioned_groups
        below, until = _below(self.grants, claims, resource, now)
        identity = self.core.identity(claims, self.core.groups(claims, granted), roles, below)
        return self.core.remember(entry, resource, grants, identity, until)


async def _maybe(value: Awaitable[bool] | bool) -> bool:
    return await value if inspect.isawaitable(value) else value


class AsyncVerifier(_Base):
    """Verifies tokens for one destination inside one event loop (ASGI)."""

    def __init__(
        self,
        issuer: str | None = None,
        *,
        audience: str,
        jwks: KeySet | dict[str, Any] | None = None,
        jwks_uri: str | None = None,
        grants: GrantSource | AsyncAuthorityGrants | None = None,
        access_key: str | None = None,
        deny_list: DenyList | AsyncDenyList | None = None,
        replay: ReplayStore | AsyncReplayStore | None = None,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        typ: str | None = None,
        leeway: float = MAX_CLOCK_SKEW,
        keep_system_groups: bool = False,
        cache_size: int = CACHE_SIZE,
        jwks_policy: JWKSPolicy | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        decrypt_with: Key | KeySet | None = None,
        accept_unsealed: bool = False,
    ) -> None:
        _sources(issuer, jwks, jwks_uri)
        super().__init__(
            issuer, audience=audience, jwks=jwks, algorithms=algorithms, typ=typ, leeway=leeway,
            keep_system_groups=keep_system_groups, cache_size=cache_size, clock=clock,
            decrypt_with=decrypt_with, accept_unsealed=accept_unsealed,
        )  # fmt: skip
        self.jwks = self.static or AsyncJWKSClient(
            issuer=None if jwks_uri else issuer, jwks_uri=jwks_uri, policy=jwks_policy,
            http=http, clock=clock,
        )  # fmt: skip
        if grants is None and issuer is not None and access_key is not None:
            grants = AsyncAuthorityGrants(issuer, audience, access_key=access_key, http=http)
        self.grants = grants
        self.deny_list = deny_list
        self.replay = replay

    async def verify(self, token: str, *, resource: str | None = None) -> Identity:
        """As :meth:`Verifier.verify`."""
        resource = self.settings.resource(resource)
        now = self._clock()
        entry, kid = self.core.lookup(token, now, self.jwks.names)
        if entry is None:
            inner, kid = self.core.unseal(token, kid)
            entry = self.core.check(inner, token, await self.jwks.aget(kid), now)
        claims = entry.claims
        if self.deny_list is not None and await _maybe(
            self.deny_list.is_denied(claims["jti"], claims["sub"])
        ):
            raise RevokedTokenError("the token has been revoked")
        grants = _grants_now(self.grants)
        _check_revoked(grants, claims, now)
        if self.replay is not None and not await _maybe(
            self.replay.first_use(claims["jti"], entry.exp)
        ):
            raise ReplayedTokenError("the token has been used before")
        remembered = self.core.remembered(entry, resource, grants, now)
        if remembered is not None:
            return remembered
        roles = await self._roles(claims, claims.get("groups") or [], resource, now)
        granted = self.grants.mentioned_groups if self.grants is not None else frozenset()
        below, until = _below(self.grants, claims, resource, now)
        identity = self.core.identity(claims, self.core.groups(claims, granted), roles, below)
        return self.core.remember(entry, resource, grants, identity, until)

    async def _roles(
        self, claims: dict[str, Any], groups: list[str], resource: str, now: float
    ) -> frozenset[str]:
        name = claims.get("name") or claims["sub"]
        if isinstance(self.grants, AsyncAuthorityGrants):
            return await self.grants.aroles_for(name, groups, resource, now=now)
        if self.grants is not None:
            return _roles_for(self.grants, name, groups, resource, now)
        return frozenset()

    async def aclose(self) -> None:
        if isinstance(self.grants, AsyncAuthorityGrants):
            await self.grants.aclose()
        if isinstance(self.jwks, AsyncJWKSClient):
            await self.jwks.aclose()
