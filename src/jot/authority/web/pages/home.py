"""The page everyone lands on after sign-in: who they are and what they may do."""

from __future__ import annotations

from starlette.responses import Response

from jot.authority.web.visit import Visit

__all__ = ["home"]


def home(visit: Visit) -> Response:
    return visit.page("home.html")
