"""From verified provider claims to a jot identity: link or create the user, sync the
provider's groups, issue the access key and remember the provider session.

Everything here runs inside one transaction, after every check has passed, so a refused login
writes nothing but its audit record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from jot.api.identities import RESERVED_PREFIX, fold_name, is_reserved_name
from jot.authority import lineage
from jot.authority.credentials import hash_secret, new_access_key, new_id
from jot.authority.models import AccessKey, Group, Identity, Membership
from jot.authority.oidc.errors import LoginRefused
from jot.authority.oidc.models import Provider, ProviderLink, ProviderMembership, ProviderSession
from jot.authority.settings import Settings

__all__ = [
    "Account",
    "Issued",
    "account_from_claims",
    "issue_key",
    "resolve",
    "revoke",
    "sync_groups",
]

# Whole names only (fullmatch): re's "$" also matches before a final newline, and "devs\n"
# passed as a group name, as did an address ending in one.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9@._+:-]{0,252}")
_MAX_GROUPS = 500
# OIDC Core §2: a sub is at most 255 ASCII characters.
_MAX_SUBJECT = 255


@dataclass(frozen=True)
class Account:
    """What the provider says about the person, checked against the provider's rules."""

    subject: str
    email: str
    #: Only a literal ``email_verified: true`` counts; a missing claim is not a yes.
    email_verified: bool
    display_name: str | None
    groups: tuple[str, ...]
    ignored_groups: tuple[str, ...]


@dataclass(frozen=True)
class Issued:
    identity: Identity
    access_key: str
    key_id: str
    expires: datetime


def _groups(value: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if value is None:
        return (), ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise LoginRefused("bad_groups", "the provider's groups claim is not a list of names")
    if len(value) > _MAX_GROUPS:
        raise LoginRefused("bad_groups", f"the provider sent more than {_MAX_GROUPS} groups")
    # Keycloak names groups by path ("/admins"); the leading slash is not part of the name.
    names = [g[1:] if g.startswith("/") else g for g in value]
    # One spelling per group: "Dev" and "dev" are one group (names are case-insensitive).
    folded = {fold_name(g): g for g in reversed(names) if _NAME.fullmatch(g)}
    good = tuple(sorted(folded.values()))
    bad = tuple(sorted({g[:100] for g in names if not _NAME.fullmatch(g)}))
    return good, bad


def account_from_claims(provider: Provider, claims: dict[str, Any]) -> Account:
    """Check e-mail, verification, allowed domains and groups; :class:`LoginRefused` if not."""
    if not 0 < len(claims["sub"]) <= _MAX_SUBJECT:
        raise LoginRefused("bad_subject", "the provider's subject identifier is empty or too long")
    email = claims.get(provider.email_claim)
    if not isinstance(email, str) or "@" not in email or not _NAME.fullmatch(email):
        raise LoginRefused(
            "no_email", f"the provider sent no usable e-mail address in {provider.email_claim!r}"
        )
    email = email.lower()
    if is_reserved_name(email):
        raise LoginRefused(
            "reserved_name", f"names starting with {RESERVED_PREFIX!r} are reserved by Kubernetes"
        )
    if claims.get("email_verified") is False:
        raise LoginRefused("email_unverified", "the provider has not verified this e-mail address")
    domains = json.loads(provider.allowed_domains)
    if domains and email.rpartition("@")[2] not in domains:
        raise LoginRefused(
            "domain_not_allowed",
            f"e-mail addresses at {email.rpartition('@')[2]} may not log in here",
        )
    name = claims.get(provider.name_claim)
    good, bad = _groups(claims.get(provider.groups_claim))
    return Account(
        subject=str(claims["sub"]),
        email=email,
        email_verified=claims.get("email_verified") is True,
        display_name=name if isinstance(name, str) else None,
        groups=good,
        ignored_groups=bad,
    )


def _by_name(session: Session, name: str) -> Identity | None:
    return session.scalars(select(Identity).where(Identity.name_key == fold_name(name))).first()


def _check_link(session: Session, provider: Provider, account: Account, identity: Identity) -> None:
    """May this provider login become the existing ``identity``? Only a person's account,
    only on an address the provider vouches for, and never one that this provider already
    knows as someone else (an address handed on to a new person gets nothing of the old)."""
    if identity.kind != "user":
        raise LoginRefused("conflict", f"{account.email} is a machine identity; it cannot log in")
    other = select(ProviderLink.subject).where(
        ProviderLink.provider_id == provider.id, ProviderLink.identity_id == identity.id
    )
    if session.scalars(other).first() is not None:
        raise LoginRefused(
            "address_reassigned",
            f"the jot account {identity.name} belongs to another {provider.name} login; "
            "an admin must rename or remove it before this login can have the address",
        )
    if not (account.email_verified or provider.verifies_email):
        raise LoginRefused(
            "email_unverified",
            f"{provider.name} did not say that {account.email} is verified, so this login "
            f"cannot take over the existing jot account {identity.name}",
        )


def resolve(
    session: Session, provider: Provider, account: Account, now: datetime
) -> tuple[Identity, str]:
    """The identity for this provider subject: ``(identity, "existing"|"linked"|"created")``.

    The link (provider, ``sub``) is what the identity is known by; the address only names it.
    When the provider renames the person, the identity (and, by id, its grants) follows.
    """
    link = session.get(ProviderLink, (provider.id, account.subject))
    if link is not None:
        identity = session.get(Identity, link.identity_id)
        if identity is None:  # pragma: no cover - the link cascades with the identity
            raise LoginRefused("conflict", "this login's identity has gone; try again")
        if identity.name_key != fold_name(account.email):
            if _by_name(session, account.email) is not None:
                raise LoginRefused(
                    "conflict", f"{account.email} already belongs to another identity"
                )
            identity.name, identity.updated = account.email, now
        return identity, "existing"
    identity = _by_name(session, account.email)
    how = "linked"
    if identity is not None:
        _check_link(session, provider, account, identity)
    else:
        identity = Identity(
            id=new_id(),
            name=account.email,
            kind="user",
            password_hash=None,
            created=now,
            updated=now,
        )
        session.add(identity)
        how = "created"
    session.add(
        ProviderLink(provider_id=provider.id, subject=account.subject, identity_id=identity.id)
    )
    session.flush()
    return identity, how


def _group_ids(session: Session, names: tuple[str, ...], now: datetime) -> dict[str, str]:
    """Group name → id, creating the groups that do not exist (matched case-insensitively)."""
    keys = [fold_name(name) for name in names]
    rows = session.execute(select(Group.name_key, Group.id).where(Group.name_key.in_(keys)))
    by_key: dict[str, str] = {row.name_key: row.id for row in rows}
    found: dict[str, str] = {}
    for name, key in zip(names, keys, strict=True):
        if key not in by_key:
            by_key[key] = new_id()
            session.add(Group(id=by_key[key], name=name, created=now))
        found[name] = by_key[key]
    session.flush()
    return found


def sync_groups(
    session: Session, provider: Provider, identity_id: str, groups: tuple[str, ...], now: datetime
) -> tuple[list[str], list[str]]:
    """Make the provider-made memberships exactly ``groups``; jot-managed ones stay.

    Returns ``(added, removed)`` group names.
    """
    wanted = _group_ids(session, groups, now) if groups else {}
    mine = set(
        session.scalars(
            select(ProviderMembership.group_id).where(
                ProviderMembership.provider_id == provider.id,
                ProviderMembership.identity_id == identity_id,
            )
        )
    )
    member_of = set(
        session.scalars(select(Membership.group_id).where(Membership.identity_id == identity_id))
    )
    added = []
    for name, group_id in sorted(wanted.items()):
        if group_id in member_of:
            continue  # Already a member, from this provider or managed in jot.
        session.add(Membership(group_id=group_id, identity_id=identity_id))
        session.add(
            ProviderMembership(provider_id=provider.id, identity_id=identity_id, group_id=group_id)
        )
        added.append(name)
    gone = mine - set(wanted.values())
    removed = []
    if gone:
        removed = sorted(session.scalars(select(Group.name).where(Group.id.in_(gone))))
        session.execute(
            delete(Membership).where(
                Membership.identity_id == identity_id, Membership.group_id.in_(gone)
            )
        )
        session.execute(
            delete(ProviderMembership).where(
                ProviderMembership.provider_id == provider.id,
                ProviderMembership.identity_id == identity_id,
                ProviderMembership.group_id.in_(gone),
            )
        )
    return added, removed


def issue_key(
    session: Session,
    settings: Settings,
    provider: Provider,
    identity: Identity,
    subject: str,
    refresh_enc: Any,
    now: datetime,
) -> Issued:
    """A new access key for ``identity`` and the provider session behind it.

    :param refresh_enc: a callable ``(key_id) -> bytes | None`` that seals the refresh token
        for this key's row (the key id is its associated data).
    """
    key_id, secret, full = new_access_key()
    expires = now + timedelta(seconds=settings.access_key_lifetime)
    session.add(
        AccessKey(
            id=key_id,
            identity_id=identity.id,
            name=f"oidc:{provider.name}",
            secret_hash=hash_secret(secret),
            created=now,
            expires=expires,
            inactivity_timeout=settings.access_key_inactivity,
            last_used=now,
            revoked=None,
        )
    )
    session.flush()
    session.add(
        ProviderSession(
            access_key_id=key_id,
            provider_id=provider.id,
            identity_id=identity.id,
            subject=subject,
            refresh_enc=refresh_enc(key_id),
            last_check=now,
        )
    )
    return Issued(identity, full, key_id, expires)


def revoke(session: Session, provider_id: str, identity_id: str | None, now: datetime) -> list[str]:
    """Revoke the access keys that came from this provider (for one identity or all) and
    every key made from them; returns the ids revoked now."""
    stmt = select(ProviderSession.access_key_id).where(ProviderSession.provider_id == provider_id)
    if identity_id is not None:
        stmt = stmt.where(ProviderSession.identity_id == identity_id)
    return lineage.revoke(session, session.scalars(stmt), now)
