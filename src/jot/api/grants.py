"""Grants: `(subject, role, resource)`, served to destinations by `GET /api/grants`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["Grant", "GrantList"]


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


class GrantList(BaseModel):
    """The grants of one destination.

    ``GET /api/grants?destination=NAME`` answers with this body and an ``ETag`` header. A
    request with ``If-None-Match: <etag>`` and ``wait=<seconds>`` long-polls: the server answers
    as soon as the grants change, or ``304 Not Modified`` when ``wait`` runs out.
    """

    model_config = ConfigDict(extra="forbid")

    items: list[Grant]
    revision: int
