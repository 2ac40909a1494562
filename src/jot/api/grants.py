"""Grants: `(subject, role, resource)`, served to destinations by `GET /api/grants`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Grant", "GrantList", "Revoked"]


class Grant(BaseModel):
    """``subject`` is ``user:<name>`` or ``group:<name>``; ``resource`` is
    ``destination[.sub-resource]``; ``role`` is a name the destination understands."""

    model_config = ConfigDict(extra="forbid")

    id: str
    subject: str
    role: str
    resource: str
    created: datetime
    #: When a time-bound grant stops applying; ``None``: until removed.
    expires: datetime | None = None


class Revoked(BaseModel):
    """A deny entry: every token of the subject whose ``sub`` is ``value`` (``kind``
    ``subject``), or the one token whose ``jti`` is ``value`` (``token``), is refused until
    ``until``, when the last token it concerns has expired."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["subject", "token"]
    value: str
    until: datetime


class GrantList(BaseModel):
    """The grants of one destination.

    ``GET /api/grants?destination=NAME`` answers with this body and an ``ETag`` header. A
    request with ``If-None-Match: <etag>`` and ``wait=<seconds>`` long-polls: the server answers
    as soon as the grants (or the deny entries) change, or ``304 Not Modified`` when ``wait``
    runs out.
    """

    model_config = ConfigDict(extra="forbid")

    items: list[Grant]
    revision: int
    #: The deny entries in force (``jot revoke``): pushed with the grants, so that every
    #: destination refuses a revoked token as soon as its long-poll answers.
    revoked: list[Revoked] = Field(default_factory=list)
