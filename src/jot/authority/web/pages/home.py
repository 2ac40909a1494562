""" "My access": who the signed-in person is, where they can get tokens, with which roles and
from which grant, and a token on request (through the token endpoint's own handler)."""

from __future__ import annotations

from starlette.responses import Response

from jot.api import TokenRequest
from jot.api.explain import AccessList
from jot.authority import tokens
from jot.authority.access import Need
from jot.authority.errors import APIError
from jot.authority.handlers import explain
from jot.authority.web.visit import Visit

__all__ = ["get_token", "home"]


def _page(visit: Visit, status: int = 200, **extra: object) -> Response:
    mine: AccessList = visit.call(Need.SELF, explain.my_access)
    return visit.page("home.html", status, access=mine.items, **extra)


def home(visit: Visit) -> Response:
    return _page(visit)


def get_token(visit: Visit) -> Response:
    destination = visit.form.get("destination", "")
    try:
        body = TokenRequest(destination=destination[:253] or "-")
        issued = visit.call(Need.SELF, tokens.issue_token, body)
    except APIError as exc:
        return _page(visit, exc.status, message=exc.message)
    return _page(visit, 201, token=issued.token, token_for=destination, expires=issued.expires)
