"""Revocation (``jot revoke``): refuse a subject's tokens, or one token, everywhere at once.

``POST /api/revocations`` (admins) with ``subject`` (``user:NAME``: its access keys are
revoked too, and no token is issued for it while the entry lasts) or ``token`` (a ``jti``).
The entry reaches every destination with its grants (:class:`jot.api.grants.Revoked`) and
ages out when the last token it concerns has expired.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from jot.api._base import CONTROL, Request, Response

__all__ = ["Revocation", "RevocationCreate", "RevocationList"]

_Text = Annotated[str, Field(min_length=1, max_length=1000, pattern=rf"^[^{CONTROL}]*$")]


class RevocationCreate(Request):
    """Exactly one of ``subject`` and ``token``."""

    subject: str | None = Field(
        default=None, min_length=6, max_length=300, pattern=r"^user:[A-Za-z0-9][A-Za-z0-9@._+:-]*$"
    )
    token: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[!-~]+$")
    reason: _Text | None = None


class Revocation(Response):
    id: str
    kind: Literal["subject", "token"]
    #: ``user:NAME``, or the token's ``jti``.
    target: str
    #: What destinations compare: the subject's ``sub`` (its identity id), or the ``jti``.
    value: str
    until: datetime
    created: datetime
    actor: str | None
    reason: str | None = None
    #: The subject's access keys revoked with it (only when it is new).
    revoked_access_keys: list[str] = Field(default_factory=list)


class RevocationList(Response):
    items: list[Revocation]
