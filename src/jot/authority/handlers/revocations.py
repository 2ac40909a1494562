"""``jot revoke``: refuse a subject's tokens, or one token, at every destination at once.

A subject's revocation also revokes its access keys (no new token comes), and the token
decision refuses it while the entry lasts (a new login brings no token either). The entry
moves the grants revision, so that the long-polls of every destination answer with it at
once; each destination then refuses the tokens it names.
"""

from __future__ import annotations

from sqlalchemy import select

from jot.api.revocations import Revocation as RevocationOut
from jot.api.revocations import RevocationCreate, RevocationList
from jot.authority import grants_store, lineage, revocations
from jot.authority.context import Context
from jot.authority.errors import BadRequest, NotFound
from jot.authority.models import Revocation

__all__ = ["create_revocation", "delete_revocation", "list_revocations"]


def _out(row: Revocation, keys: list[str] | None = None) -> RevocationOut:
    return RevocationOut(
        id=row.id, kind=row.kind, target=row.target, value=row.value,
        until=row.until, created=row.created, actor=row.actor, reason=row.reason,
        revoked_access_keys=keys or [],
    )  # fmt: skip


def create_revocation(ctx: Context, body: RevocationCreate) -> RevocationOut:
    """Revoke ``subject`` (``user:NAME``) or ``token`` (a jti) until its last token expired."""
    if (body.subject is None) == (body.token is None):
        raise BadRequest("give subject (user:NAME) or token (a jti), one of them")
    keys: list[str] = []
    if body.subject is not None:
        subject = grants_store.require_subject(ctx.session, body.subject)
        assert subject.identity_id is not None  # user: only, by the body's pattern.
        kind, value, target = "subject", subject.identity_id, subject.text
        keys = lineage.revoke_identity(ctx.session, subject.identity_id, ctx.now)
    else:
        kind, value, target = "token", str(body.token), str(body.token)
    row = revocations.deny(
        ctx.session, kind, value, target, ctx.now, actor=ctx.actor, reason=body.reason
    )
    grants_store.bump(ctx)  # Every destination's long-poll answers with it now.
    ctx.audit(
        "revocation.created", target, kind=kind, value=value, until=row.until.isoformat(),
        reason=body.reason, revoked_access_keys=keys,
    )  # fmt: skip
    return _out(row, keys)


def list_revocations(ctx: Context) -> RevocationList:
    """The entries in force, newest first."""
    stmt = (
        select(Revocation)
        .where(Revocation.until > ctx.now)
        .order_by(Revocation.created.desc(), Revocation.id)
    )
    return RevocationList(items=[_out(row) for row in ctx.session.scalars(stmt)])


def delete_revocation(ctx: Context, revocation_id: str) -> None:
    """Lift an entry before it ages out (a subject's revoked access keys stay revoked)."""
    row = ctx.session.get(Revocation, revocation_id)
    if row is None:
        raise NotFound(f"no revocation with id {revocation_id!r}")
    ctx.session.delete(row)
    grants_store.bump(ctx)
    ctx.audit("revocation.lifted", row.target, kind=row.kind, value=row.value)
