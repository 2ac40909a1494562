"""The token debugger: a page and a script (``static/debug.js``); the token stays in the
browser, which decodes and verifies it with WebCrypto."""

from __future__ import annotations

from starlette.responses import Response

from jot.api import TOKEN_TYPE
from jot.authority.web.visit import Visit

__all__ = ["debugger"]


def debugger(visit: Visit) -> Response:
    issuer = visit.authority.settings.issuer_url
    return visit.page("debug.html", issuer=issuer, token_type=TOKEN_TYPE)
