"""Every page of the web console, in one table, with the access rule that admits it.

The rule is the first gate (nobody signed in: to the sign-in page; a role missing: 403);
every action a page takes then goes through its API route's own rule as well. The pages
are plain Starlette routes added after the API's: no middleware, nothing on the token path.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from jot.authority.access import Need
from jot.authority.web.pages import debug, home, signin
from jot.authority.web.render import STATIC
from jot.authority.web.visit import PageFunction, endpoint

__all__ = ["PAGES", "STATIC_PATH", "Page", "install"]

#: Where the console's own scripts, styles and images are served from.
STATIC_PATH = "/static"


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    page: PageFunction
    need: Need


PAGES: list[Page] = [
    Page("GET", "/", home.home, Need.SELF),
    Page("POST", "/token", home.get_token, Need.SELF),
    Page("GET", "/debug", debug.debugger, Need.PUBLIC),
    Page("GET", "/sign-in", signin.sign_in_form, Need.PUBLIC),
    Page("POST", "/sign-in", signin.sign_in, Need.PUBLIC),
    Page("POST", "/sign-out", signin.sign_out, Need.SELF),
]


def install(app: FastAPI) -> None:
    for page in PAGES:
        route = Route(page.path, endpoint(page.page, page.need), methods=[page.method])
        route.methods = {page.method}  # Starlette adds HEAD to GET; the pages need none.
        app.router.routes.append(route)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="web-static")
