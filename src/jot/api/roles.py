"""Which roles grants give: the one rule that the authority and every destination apply.

Pure functions over plain values (no database, no models), so that both sides compute the
same answer. Subjects are ``user:<name>`` and ``group:<name>``; the caller passes the grants
held by those subjects, by subject (the authority reads only those from its database, a
destination indexes its synced list).

A grant on ``web`` applies to ``web`` and every sub-resource ``web.x``; a grant on ``web.x``
applies to ``web.x`` and its own children, never to ``web``. A time-bound grant applies
until its ``expires`` (epoch seconds), not at that instant or after: every function takes
``now`` (default: the system clock), so that both sides drop it at the same moment without
asking anyone. The rules, with examples, are in docs/destinations.md ("The decision").
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "Decision",
    "Denied",
    "Held",
    "HeldGrants",
    "applies",
    "decide",
    "expiry_of",
    "granting_groups",
    "namespace_of",
    "resource_chain",
    "revoked",
    "role_group",
    "roles_below",
    "roles_on",
    "roles_within",
    "subjects_of",
]


class Held(NamedTuple):
    """One grant as the decision reads it (its subject is the key it is filed under)."""

    resource: str
    role: str
    #: When a time-bound grant stops applying (epoch seconds); None: until it is removed.
    expires: float | None = None


#: Grants by subject (``user:<name>``, ``group:<name>``).
HeldGrants = Mapping[str, Sequence[Held]]

#: Deny entries (``jot revoke``): ``("subject", <sub>)`` or ``("token", <jti>)`` → until when
#: (epoch seconds) it is refused.
Denied = Mapping[tuple[str, str], float]


@dataclass(frozen=True, slots=True)
class Decision:
    """What grants and deny entries say about one caller, at one resource, at one time."""

    #: The roles held on the resource (and above it): what a destination gives.
    roles: frozenset[str]
    #: The roles held on the resource's destination or anywhere below it.
    within: frozenset[str]
    #: The subject or the token is revoked: nothing is given, no token is issued.
    revoked: bool
    #: When the next of the grants behind this answer lapses (None: none is time-bound): an
    #: answer kept in a cache holds until then.
    until: float | None

    @property
    def token(self) -> bool:
        """Whether the authority issues a token for the destination: some role within it,
        and no deny entry."""
        return bool(self.within) and not self.revoked


def applies(held: Held, resource: str, now: float) -> bool:
    """Whether ``held`` gives its role at ``resource`` at ``now``: a grant on ``resource`` or
    above it, not lapsed. What :func:`decide` reads, and what an explanation shows."""
    return _current(held, now) and held.resource in resource_chain(resource)


def revoked(denied: Denied, subject: str, jti: str | None = None, *, now: float) -> bool:
    """Whether a deny entry in force at ``now`` names the subject (its ``sub``) or the token
    (its ``jti``)."""
    for key in (("subject", subject), ("token", jti or "")):
        until = denied.get(key)
        if until is not None and now < until:
            return True
    return False


def decide(
    name: str,
    groups: Iterable[str],
    resource: str,
    grants: HeldGrants,
    *,
    subject: str = "",
    jti: str | None = None,
    denied: Denied | None = None,
    now: float | None = None,
) -> Decision:
    """The one decision, for the token endpoint, every destination, the console and
    ``jot grants check``: subject and groups, resource hierarchy, expiry, revocation.

    :param name: the caller's name (the token's ``name``): its grants are ``user:<name>``.
    :param groups: its groups: their grants are ``group:<group>``.
    :param resource: ``destination[.sub-resource]`` asked about.
    :param grants: the grants by subject (the caller's own suffice).
    :param subject: the caller's ``sub`` (identity id), which a subject deny entry names.
    :param jti: the token's id, which a token deny entry names.
    :param denied: the deny entries; None: none.
    :param now: epoch seconds; default: the system clock.
    """
    current = time.time() if now is None else now
    chain = set(resource_chain(resource))
    destination = resource.partition(".")[0]
    roles: set[str] = set()
    within: set[str] = set()
    ends: list[float] = []
    for held in _held(name, groups, grants, current):
        if held.resource in chain:
            roles.add(held.role)
        if _within(held.resource, destination):
            within.add(held.role)
            if held.expires is not None:
                ends.append(held.expires)
    denial = bool(denied) and revoked(denied or {}, subject, jti, now=current)
    until = min(ends) if ends else None
    if denial:
        return Decision(frozenset(), frozenset(), True, until)
    return Decision(frozenset(roles), frozenset(within), False, until)


def resource_chain(resource: str) -> tuple[str, ...]:
    """``"web.a.b"`` → ``("web", "web.a", "web.a.b")``: the resources whose grants apply."""
    parts = resource.split(".")
    return tuple(".".join(parts[: i + 1]) for i in range(len(parts)))


def subjects_of(name: str, groups: Iterable[str]) -> list[str]:
    """The subjects a caller named ``name`` in ``groups`` holds grants as."""
    return ["user:" + name, *("group:" + group for group in groups)]


def _current(held: Held, now: float) -> bool:
    """Rule 3 (expiry): a time-bound grant applies until its ``expires``, not at that instant."""
    return held.expires is None or now < held.expires


def _live(held: Iterable[Held], now: float) -> Iterator[Held]:
    """The grants of ``held`` that apply at ``now``."""
    return (h for h in held if _current(h, now))


def _held(
    name: str, groups: Iterable[str], grants: HeldGrants, now: float | None
) -> Iterator[Held]:
    """The grants that apply now to ``name`` and its ``groups``."""
    current = time.time() if now is None else now
    yield from _live(grants.get("user:" + name, ()), current)
    listed = groups if isinstance(groups, Collection) else tuple(groups)
    if len(grants) > len(listed):
        for group in listed:
            yield from _live(grants.get("group:" + group, ()), current)
        return
    # The authority passes only the caller's own grants (a few subjects), and a person may
    # be in hundreds of groups: then the shorter side is walked (the same answer).
    member = listed if isinstance(listed, (set, frozenset)) else set(listed)
    for subject, held in grants.items():
        if subject.startswith("group:") and subject[6:] in member:
            yield from _live(held, current)


def roles_on(
    name: str, groups: Iterable[str], resource: str, grants: HeldGrants, *, now: float | None = None
) -> frozenset[str]:
    """The roles that ``name`` and its ``groups`` hold on ``resource``: :func:`decide`'s
    ``roles``, without deny entries."""
    return decide(name, groups, resource, grants, now=now).roles


def roles_below(
    name: str, groups: Iterable[str], resource: str, grants: HeldGrants, *, now: float | None = None
) -> dict[str, frozenset[str]]:
    """The roles granted on each sub-resource strictly below ``resource`` (``k8s.dev`` →
    ``{"k8s.dev": …}`` for ``k8s``): what a Kubernetes destination turns into namespaced
    role groups. Roles held on ``resource`` itself are :func:`roles_on`'s, not repeated here."""
    prefix = resource + "."
    below: dict[str, set[str]] = {}
    for held in _held(name, groups, grants, now):
        if held.resource.startswith(prefix):
            below.setdefault(held.resource, set()).add(held.role)
    return {sub: frozenset(roles) for sub, roles in below.items()}


def namespace_of(resource: str) -> str | None:
    """The Kubernetes namespace that a grant on ``resource`` is about: ``k8s.dev`` → ``dev``;
    None for the whole destination (``k8s``) and for deeper sub-resources (``k8s.dev.x``),
    which mean nothing to Kubernetes."""
    namespace = resource.partition(".")[2]
    return namespace if namespace and "." not in namespace else None


def role_group(prefix: str, role: str, namespace: str | None = None) -> str:
    """The group a Kubernetes destination sends for ``role`` (in ``namespace``), and that
    ``jot destinations rbac`` binds: one name on both sides, or a binding matches nobody."""
    return f"{prefix}{role}" if namespace is None else f"{prefix}{role}:{namespace}"


def _within(resource: str, destination: str) -> bool:
    return resource == destination or resource.startswith(destination + ".")


def roles_within(
    name: str,
    groups: Iterable[str],
    destination: str,
    grants: HeldGrants,
    *,
    now: float | None = None,
) -> frozenset[str]:
    """The roles held on ``destination`` or any of its sub-resources (:func:`decide`'s
    ``within``): the authority issues a token for ``destination`` only when there is one."""
    return decide(name, groups, destination, grants, now=now).within


def granting_groups(
    groups: Sequence[str], destination: str, grants: HeldGrants, *, now: float | None = None
) -> tuple[str, ...]:
    """The ``groups`` (in their order) that hold a grant within ``destination``: a narrowed
    token carries only these."""
    current = time.time() if now is None else now
    granting: set[str] = set()
    for subject, held in grants.items():  # Plain loops: this runs for every token issued.
        if subject.startswith("group:"):
            for h in held:
                if _current(h, current) and _within(h.resource, destination):
                    granting.add(subject[6:])
                    break
    return tuple([group for group in groups if group in granting]) if granting else ()


def expiry_of(
    name: str, groups: Iterable[str], grants: HeldGrants, *, now: float | None = None
) -> float | None:
    """When the next of the grants that apply now to ``name`` and its ``groups`` lapses (None:
    none is time-bound): an answer from :func:`roles_on` holds until then, so a cache of it
    must not outlive it."""
    ends = [held.expires for held in _held(name, groups, grants, now) if held.expires is not None]
    return min(ends) if ends else None
