"""Which roles grants give: the one rule that the authority and every destination apply.

Pure functions over plain values (no database, no models), so that both sides compute the
same answer. Subjects are ``user:<name>`` and ``group:<name>``; the caller passes the grants
held by those subjects, by subject (the authority reads only those from its database, a
destination indexes its synced list).

A grant on ``web`` applies to ``web`` and every sub-resource ``web.x``; a grant on ``web.x``
applies to ``web.x`` and its own children, never to ``web``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

__all__ = [
    "Held",
    "HeldGrants",
    "granting_groups",
    "resource_chain",
    "roles_below",
    "roles_on",
    "roles_within",
    "subjects_of",
]


class Held(NamedTuple):
    """One grant as the decision reads it (its subject is the key it is filed under)."""

    resource: str
    role: str


#: Grants by subject (``user:<name>``, ``group:<name>``).
HeldGrants = Mapping[str, Sequence[Held]]


def resource_chain(resource: str) -> tuple[str, ...]:
    """``"web.a.b"`` → ``("web", "web.a", "web.a.b")``: the resources whose grants apply."""
    parts = resource.split(".")
    return tuple(".".join(parts[: i + 1]) for i in range(len(parts)))


def subjects_of(name: str, groups: Iterable[str]) -> list[str]:
    """The subjects a caller named ``name`` in ``groups`` holds grants as."""
    return ["user:" + name, *("group:" + group for group in groups)]


def _held(name: str, groups: Iterable[str], grants: HeldGrants) -> Iterator[Held]:
    """The grants of ``grants`` that ``name`` holds itself or through one of ``groups``."""
    yield from grants.get("user:" + name, ())
    listed = groups if isinstance(groups, Collection) else tuple(groups)
    if len(grants) > len(listed):
        for group in listed:
            yield from grants.get("group:" + group, ())
        return
    # The authority passes only the caller's own grants (a few subjects), and a person may
    # be in hundreds of groups: then the shorter side is walked (the same answer).
    member = listed if isinstance(listed, (set, frozenset)) else set(listed)
    for subject, held in grants.items():
        if subject.startswith("group:") and subject[6:] in member:
            yield from held


def roles_on(name: str, groups: Iterable[str], resource: str, grants: HeldGrants) -> frozenset[str]:
    """The roles that ``name`` and its ``groups`` hold on ``resource``: the destination's
    answer at every request."""
    applicable = set(resource_chain(resource))
    return frozenset(
        held.role for held in _held(name, groups, grants) if held.resource in applicable
    )


def roles_below(
    name: str, groups: Iterable[str], resource: str, grants: HeldGrants
) -> dict[str, frozenset[str]]:
    """The roles granted on each sub-resource strictly below ``resource`` (``k8s.dev`` →
    ``{"k8s.dev": …}`` for ``k8s``): what a Kubernetes destination turns into namespaced
    role groups. Roles held on ``resource`` itself are :func:`roles_on`'s, not repeated here."""
    prefix = resource + "."
    below: dict[str, set[str]] = {}
    for held in _held(name, groups, grants):
        if held.resource.startswith(prefix):
            below.setdefault(held.resource, set()).add(held.role)
    return {sub: frozenset(roles) for sub, roles in below.items()}


def _within(resource: str, destination: str) -> bool:
    return resource == destination or resource.startswith(destination + ".")


def roles_within(
    name: str, groups: Iterable[str], destination: str, grants: HeldGrants
) -> frozenset[str]:
    """The roles held on ``destination`` or any of its sub-resources: the authority issues a
    token for ``destination`` only when there is one."""
    return frozenset(
        held.role for held in _held(name, groups, grants) if _within(held.resource, destination)
    )


def granting_groups(groups: Sequence[str], destination: str, grants: HeldGrants) -> tuple[str, ...]:
    """The ``groups`` (in their order) that hold a grant within ``destination``: a narrowed
    token carries only these."""
    granting = {
        subject[6:]
        for subject, held in grants.items()
        if subject.startswith("group:") and any(_within(h.resource, destination) for h in held)
    }
    return tuple(group for group in groups if group in granting)
