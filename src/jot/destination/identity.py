"""`Identity`: who a verified token says the caller is, and the roles this destination gives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Identity"]


@dataclass(frozen=True, slots=True)
class Identity:
    """The result of verification.

    ``roles`` are computed by the destination from its grants at every request; they are never
    read from the token. It also fits Starlette's ``BaseUser`` protocol (``is_authenticated``,
    ``display_name``, ``identity``), so ``request.user`` works as usual.
    """

    subject: str
    name: str
    groups: tuple[str, ...]
    roles: frozenset[str]
    token_id: str
    expires: datetime
    claims: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: Roles granted on sub-resources below the one asked about, by sub-resource
    #: (``{"k8s.dev": {"edit"}}``): a Kubernetes destination's namespaced roles.
    scoped_roles: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def identity(self) -> str:
        return self.subject

    def has_role(self, *roles: str) -> bool:
        """True when the identity holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)

    @staticmethod
    def expiry(exp: int | float) -> datetime:
        """The ``exp`` claim as an aware UTC datetime."""
        return datetime.fromtimestamp(exp, tz=UTC)
