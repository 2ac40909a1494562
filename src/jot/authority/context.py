"""One request: authenticate, check access, run the handler in one transaction.

:func:`run` is the wrapper that every route goes through; handlers receive a
:class:`Context` and never open transactions themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from jot.api.identities import fold_name
from jot.authority import access, audit
from jot.authority.authcache import Caller, Principal
from jot.authority.clock import to_datetime
from jot.authority.credentials import parse_access_key, secret_matches
from jot.authority.errors import APIError, TooManyRequests, Unauthorized
from jot.authority.logs import IDENTITY_SCOPE_KEY
from jot.authority.models import AccessKey, Identity
from jot.authority.prepared import Prepared, Reads
from jot.authority.state import Authority

__all__ = [
    "TOUCH",
    "CommitThenRaise",
    "Context",
    "bearer_of",
    "cached_principal",
    "check",
    "load_identity",
    "reads_first",
    "run",
    "run_as",
    "still_valid",
    "touch_values",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# last_used is written at most this often per key, so reads stay reads.
_TOUCH_EVERY = timedelta(seconds=60)


class CommitThenRaise(Exception):
    """Raised by a handler to answer with ``error`` after committing what it wrote (the audit
    record of a failed login must survive the failure)."""

    def __init__(self, error: APIError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class Context:
    authority: Authority
    #: Where the request's reads run: its ORM session, or for a token check (:func:`check`)
    #: a Core connection, which the prepared reads of the token path take as well.
    reads: Reads
    now: datetime
    client: str | None
    caller: Caller | None = None
    groups: list[str] = field(default_factory=list)
    #: The caller's roles on ``jot`` (:attr:`roles`); ``None`` until read.
    known_roles: set[str] | None = None
    #: Run after a successful commit (refresh in-process caches).
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    #: A writing request that changes nothing an access check reads (issuing a token).
    keeps_auth_cache: bool = False
    #: Whether ``session`` may write (else :meth:`writing` opens a transaction that may).
    writes: bool = True
    #: An access key whose ``last_used`` is due to be written (by a read-only request: after
    #: its transaction, unless the handler takes it over, as token issuance does).
    touch_due: str | None = None

    @property
    def session(self) -> Session:
        """The request's ORM session (a token check has none: its handler reads through
        :attr:`reads` alone)."""
        if not isinstance(self.reads, Session):
            raise TypeError("this request reads on a connection: it has no ORM session")
        return self.reads

    @session.setter
    def session(self, session: Session) -> None:
        self.reads = session

    @property
    def roles(self) -> set[str]:
        """The caller's roles on ``jot``: from its key check, or read at first use when the
        check left them out (a token check needs none: :func:`check`)."""
        if self.known_roles is None:
            me, now = self.caller, self.now.timestamp()
            self.known_roles = (
                set()
                if me is None
                else access.jot_roles(self.reads, me.id, me.name, self.groups, now=now)[0]
            )
        return self.known_roles

    @property
    def actor(self) -> str | None:
        return self.caller.name if self.caller else None

    def me(self) -> Caller:
        if self.caller is None:
            raise Unauthorized()
        return self.caller

    def audit(self, event: str, target: str | None, **detail: Any) -> None:
        audit.record(
            self.session,
            self.now,
            event,
            actor=self.actor,
            target=target,
            client=self.client,
            detail=detail,
        )

    def audit_refusal(self, event: str, target: str | None, **detail: Any) -> None:
        """Like :meth:`audit`, for a refusal that may repeat without bound: repeats within a
        minute are folded into the next row (``detail.repeated``)."""
        now = self.authority.clock()
        folded = self.authority.refusals.fold(now, event, target, self.client, detail)
        if folded is not None:
            with self.writing():
                self.audit(event, target, **folded)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A short writing transaction for a :func:`reads_first` handler: ``self.session`` is
        that transaction inside the block, committed when the block ends. In a request that
        writes anyway, the block joins its transaction."""
        if self.writes:
            yield
            return
        reader = self.session
        with self.authority.db.transaction(write=True) as session:
            self.session = session
            try:
                yield
            finally:
                self.session = reader


def reads_first(handler: F) -> F:
    """Mark a handler that does slow work (a password hash) before it writes: :func:`run`
    gives it a read transaction, and it writes in :meth:`Context.writing`, so that the slow
    part never holds SQLite's one writer slot (every other writer would wait for it)."""
    handler.__dict__["jot_reads_first"] = True
    return handler


def run(
    request: Request, need: access.Need, handler: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """Run ``handler(ctx, *args, **kwargs)`` in one transaction; commit before answering."""
    bearer = _bearer(request) if need is not access.Need.PUBLIC else None
    return run_as(request, bearer, need, handler, *args, **kwargs)


def run_as(
    request: Request,
    bearer: str | None,
    need: access.Need,
    handler: Callable[..., T],
    *args: Any,
    **kwargs: Any,
) -> T:
    """:func:`run` with the access key given rather than read from ``Authorization``: the
    web console's pages act with their browser session's key, through the same checks."""
    if bearer is None and need is not access.Need.PUBLIC:
        raise Unauthorized()
    authority: Authority = request.app.state.authority
    client = request.client.host if request.client else None
    changes = request.method not in ("GET", "HEAD")
    write = changes and not handler.__dict__.get("jot_reads_first", False)
    deferred: CommitThenRaise | None = None
    ctx: Context | None = None
    try:
        with authority.db.transaction(write=write) as session:
            ctx = Context(authority, session, to_datetime(authority.clock()), client, writes=write)
            _admit(ctx, request, bearer, need, write=write)
            try:
                result = handler(ctx, *args, **kwargs)
            except CommitThenRaise as exc:
                deferred = exc
    finally:
        if ctx is not None and ctx.touch_due is not None:
            _touch_apart(authority, ctx.touch_due, ctx.now)
    if changes and not ctx.keeps_auth_cache:
        authority.forget_checks()
    if deferred is not None:
        raise deferred.error
    for hook in ctx.after_commit:
        hook()
    return result


def check(request: Request, need: access.Need, handler: Callable[..., T], **kwargs: Any) -> T:
    """:func:`run` for a handler that only reads (the token check of
    :mod:`jot.authority.fastpath`, on a token-check thread): the same authentication and
    access check, in one read transaction on the thread's own connection
    (:meth:`~jot.authority.db.Database.reading`), where the handler reads through
    ``ctx.reads``. A due ``last_used`` write that the handler does not take over is written
    after, as :func:`run` does."""
    authority: Authority = request.app.state.authority
    bearer = _bearer(request) if need is not access.Need.PUBLIC else None
    client = request.client.host if request.client else None
    ctx: Context | None = None
    try:
        with authority.db.reading() as connection:
            now = to_datetime(authority.clock())
            ctx = Context(authority, connection, now, client, writes=False)
            _admit(ctx, request, bearer, need, write=False, roles=access.reads_roles(need))
            return handler(ctx, **kwargs)
    finally:
        if ctx is not None and ctx.touch_due is not None:
            _touch_apart(authority, ctx.touch_due, ctx.now)


def _admit(
    ctx: Context,
    request: Request,
    bearer: str | None,
    need: access.Need,
    *,
    write: bool,
    roles: bool = True,
) -> None:
    """Authenticate ``bearer`` (if any) and check that the caller may do what ``need`` says;
    the caller's roles on ``jot`` are read with its key unless ``roles`` is false."""
    if bearer is not None:
        _authenticate(ctx, bearer, write=write, roles=roles)
        request.scope[IDENTITY_SCOPE_KEY] = ctx.me().id  # For the access log.
    if access.reads_roles(need):
        access.check(need, ctx.roles)


def bearer_of(request: Request) -> str | None:
    """The access key of an ``Authorization: Bearer`` header, if there is one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _bearer(request: Request) -> str:
    bearer = bearer_of(request)
    if bearer is None:
        raise Unauthorized()
    return bearer


def _reject(ctx: Context, reason: str, key_id: str = "-") -> APIError:
    # Only a key that turned out invalid feeds the limiter, and only such a key is told to
    # slow down: a valid key is never refused, whatever else comes from its address.
    wait = ctx.authority.limits.bad_key(ctx.client, key_id)
    if wait > 0:
        return TooManyRequests("too many invalid access keys from this address; try later", wait)
    return Unauthorized(reason)


def _authenticate(ctx: Context, bearer: str, *, write: bool, roles: bool) -> None:
    cache = ctx.authority.auth_cache
    digest = cache.digest(bearer)
    principal = cache.get(digest)
    if (
        principal is None
        or not still_valid(principal, ctx.now)
        or (roles and principal.roles is None)
    ):
        generation = cache.generation
        principal = _check_key(ctx, bearer, write=write, roles=roles)
        cache.put(digest, principal, generation)
    ctx.caller, ctx.groups = principal.caller, list(principal.groups)
    ctx.known_roles = None if principal.roles is None else set(principal.roles)


def cached_principal(authority: Authority, bearer: str | None) -> Principal | None:
    """The cached check of ``bearer``, if there is one (no I/O: for the event loop). A
    cached principal is a valid key: no limiter is asked (none may refuse a valid key)."""
    if bearer is None:
        return None
    return authority.auth_cache.get(authority.auth_cache.digest(bearer))


def still_valid(principal: Principal, now: datetime) -> bool:
    """A cached check holds while no expiry passed and no last-used touch is due."""
    if principal.expires is not None and principal.expires <= now:
        return False
    if principal.roles_until is not None and principal.roles_until <= now.timestamp():
        return False  # A time-bound grant behind its roles lapsed: check again.
    return now - principal.last_used < _TOUCH_EVERY


# One Core statement for the key and its identity (an inner join: a deleted identity's keys
# cascade away, so a key without one is a race, refused like an unknown key). Built once, and
# no ORM objects: on a token request that misses the caches, the ORM cost more than the SQL.
_KEY = Prepared(
    select(
        AccessKey.secret_hash,
        AccessKey.revoked,
        AccessKey.expires,
        AccessKey.inactivity_timeout,
        AccessKey.last_used,
        AccessKey.origin_id,
        Identity.id.label("identity_id"),
        Identity.name,
        Identity.kind,
        access.MEMBERSHIPS_REVISION,
    )
    .join(Identity, Identity.id == AccessKey.identity_id)
    .where(AccessKey.id == bindparam("key"))
)


def _check_key(ctx: Context, bearer: str, *, write: bool, roles: bool) -> Principal:
    parsed = parse_access_key(bearer)
    if parsed is None:
        raise _reject(ctx, "a valid access key is required")
    key_id, secret = parsed
    key = _KEY.first(ctx.reads, {"key": key_id})
    if key is None or not secret_matches(secret, key[0]):
        raise _reject(ctx, "a valid access key is required", key_id)
    _, revoked, expires, idle, last_used, origin_id, identity_id, name, kind, memberships = key
    if revoked is not None:
        raise _reject(ctx, "this access key was revoked; log in again", key_id)
    if expires is not None and expires <= ctx.now:
        raise _reject(ctx, "this access key has expired; log in again", key_id)
    if idle and last_used + timedelta(seconds=idle) <= ctx.now:
        raise _reject(ctx, "this access key expired after inactivity; log in again", key_id)
    authority = ctx.authority
    groups = access.groups_of(
        ctx.reads, identity_id, authority.group_names, authority.member_groups, memberships
    )
    # A token check leaves the roles out: its decision reads the grants that matter there
    # (for a user in many groups, the roles on jot were a third of a token's key check).
    jot_roles, roles_until = (
        access.jot_roles(ctx.reads, identity_id, name, groups, now=ctx.now.timestamp())
        if roles
        else (None, None)
    )
    if ctx.now - last_used >= _TOUCH_EVERY:
        if write:
            ctx.session.connection().execute(TOUCH, touch_values(key_id, ctx.now))
        else:
            # A read-only request must not upgrade its snapshot to a writer (SQLite would
            # refuse with "database is locked"): the touch is written after it.
            ctx.touch_due = key_id
        last_used = ctx.now
    caller = Caller(identity_id, name, kind, key_id, origin_id or key_id)
    known = None if jot_roles is None else frozenset(jot_roles)
    return Principal(caller, expires, idle, last_used, groups, known, roles_until)


#: The write of an access key's ``last_used`` (at most every minute per key), built once:
#: building an update per request cost more than running it.
TOUCH = (
    update(AccessKey).where(AccessKey.id == bindparam("key")).values(last_used=bindparam("used"))
)


def touch_values(key_id: str, now: datetime) -> dict[str, Any]:
    """The values of :data:`TOUCH` for one key."""
    return {"key": key_id, "used": now}


def _touch_apart(authority: Authority, key_id: str, now: datetime) -> None:
    with authority.db.transaction(write=True) as session:
        session.connection().execute(TOUCH, touch_values(key_id, now))


def load_identity(session: Session, name: str) -> Identity | None:
    """The identity called ``name``, whatever the case of its letters."""
    return session.scalars(select(Identity).where(Identity.name_key == fold_name(name))).first()
