"""Explain access: which roles a subject holds on a resource, from which grants, and whether
the authority would issue it a token for the destination (and if not, why)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from jot.api._base import Response

__all__ = ["AccessList", "Explanation", "Source"]


class Source(Response):
    """One grant that gives a role: held by the subject itself or by one of its groups."""

    subject: str
    role: str
    resource: str
    #: Whether the grant applies to the resource asked about (a grant on ``web.a`` gives
    #: nothing on ``web`` or ``web.b``, but still lets its holder have tokens for ``web``;
    #: a time-bound grant stops applying at ``expires``).
    applies: bool
    #: When a time-bound grant lapses; None: until removed.
    expires: datetime | None = None
    #: It would apply to the resource, but it lapsed (the sweep deletes it soon).
    lapsed: bool = False

    def applies_text(self) -> str:
        """Whether it applies, and if not why, as the CLI and the console show it."""
        if self.applies:
            return "yes"
        return "no (lapsed)" if self.lapsed else "no (another sub-resource)"


class Explanation(Response):
    subject: str
    destination: str
    resource: str
    #: Whether the authority issues this subject tokens for the destination.
    token: bool
    #: Why not, in one line (``None`` when it does).
    reason: str | None = None
    #: The roles the destination computes for the subject on ``resource``.
    roles: list[str] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    #: The token's lifetime (seconds) and the groups it carries, when one is issued.
    lifetime: int | None = None
    token_groups: list[str] = Field(default_factory=list)
    #: "My access", a Kubernetes destination that names its cluster: the address kubectl
    #: talks to (``GET /api/clusters/{destination}`` has what a kubeconfig needs).
    cluster_server: str | None = None


class AccessList(Response):
    """ "My access": one explanation per destination where the caller holds a grant."""

    items: list[Explanation]
