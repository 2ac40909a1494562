"""One page view: the browser session behind it, who is signed in, the CSRF fields of its
forms, and calls into the API handlers with the session's access key.

:func:`endpoint` turns a page function ``(visit) -> Response`` into a Starlette endpoint.
It resolves the session, refuses a visitor the page's rule does not admit (to the sign-in
page when nobody is signed in, a 403 page otherwise), and checks a post's CSRF token
before the page function runs. The page function acts only through :meth:`Visit.call`,
which runs an API handler through :func:`jot.authority.context.run_as`: the same
authentication, access check and transaction as the JSON route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote

from markupsafe import Markup
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from jot.api.session import WhoAmI
from jot.authority import access
from jot.authority.access import Need
from jot.authority.context import run_as
from jot.authority.csrf import FIELD, CsrfRefused, Issued
from jot.authority.errors import APIError, Forbidden, Unauthorized
from jot.authority.handlers import session as session_handlers
from jot.authority.state import Authority
from jot.authority.web import sessions
from jot.authority.web.render import HEADERS, render

__all__ = ["PageFunction", "Visit", "endpoint", "invalid", "local_path", "read_form"]

T = TypeVar("T")

#: The largest form body a page takes (the API's own limit is larger; no page needs it).
MAX_FORM = 16 * 1024


@dataclass
class Visit:
    request: Request
    authority: Authority
    #: The page's access rule.
    need: Need
    session: sessions.Active | None = None
    me: WhoAmI | None = None
    form: dict[str, str] = field(default_factory=dict)
    #: Set when the session turned out to be over: the response drops its cookie.
    drop_cookie: bool = False
    _issued: list[Issued] = field(default_factory=list)

    @property
    def client(self) -> str | None:
        return self.request.client.host if self.request.client else None

    @property
    def roles(self) -> set[str]:
        return set(self.me.roles) if self.me is not None else set()

    def may(self, need: Need) -> bool:
        """Whether the signed-in identity passes ``need`` (for links and buttons only: every
        action is checked again by the handler's own route rule)."""
        if self.me is None:
            return need is Need.PUBLIC
        try:
            access.check(need, self.me.roles)
        except Forbidden:
            return False
        return True

    def call(self, need: Need, handler: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``handler`` as its API route runs it, as the signed-in identity."""
        bearer = self.session.access_key if self.session is not None else None
        return run_as(self.request, bearer, need, handler, *args, **kwargs)

    def _action(self, action: str) -> str:
        if self.session is None:
            return action
        # Bound to the session too: a token seen before a sign-in is no good after it, nor
        # one of another session.
        return f"{action}|{self.session.id}"

    def csrf(self, action: str) -> Markup:
        """The hidden CSRF field of a form that posts to ``action``."""
        issued = self.authority.forms.issue(self.request, self._action(action))
        self._issued.append(issued)
        return Markup(issued.field())  # noqa: S704 - the field escapes its value itself

    def verify(self) -> None:
        """:raises CsrfRefused: unless this post carries the token of its own form."""
        path = self.request.url.path
        self.authority.forms.verify(self.request, self._action(path), self.form.get(FIELD))

    def page(self, template: str, status: int = 200, **context: Any) -> Response:
        response = render(template, status, visit=self, me=self.me, **context)
        return self.finish(response)

    def finish(self, response: Response) -> Response:
        """Set the cookies this view needs (the CSRF browser id, a dropped session), and the
        console's headers on every answer, redirects included."""
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if self._issued:
            self._issued[0].apply(response)
        if self.drop_cookie:
            response.delete_cookie(sessions.cookie_name(self.authority), path="/")
        return response

    def redirect(self, to: str) -> Response:
        return self.finish(RedirectResponse(to, status_code=303))


PageFunction = Callable[[Visit], Response]


local_path = sessions.local_path


def invalid(exc: ValidationError) -> str:
    """A refused form field in one line: ``where: what is wrong``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else "invalid input"


async def read_form(request: Request) -> dict[str, str]:
    """A small URL-encoded form body (the only kind the console's forms send)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if kind != "application/x-www-form-urlencoded" or len(body) > MAX_FORM:
        return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def endpoint(page: PageFunction, need: Need) -> Callable[[Request], Any]:
    """The Starlette endpoint of ``page``, admitted by ``need``."""

    async def serve(request: Request) -> Response:
        form = await read_form(request) if request.method == "POST" else {}
        return await run_in_threadpool(_serve, request, page, need, form)

    serve.__name__ = page.__name__
    serve.__doc__ = page.__doc__
    return serve


def _serve(request: Request, page: PageFunction, need: Need, form: dict[str, str]) -> Response:
    authority: Authority = request.app.state.authority
    visit = Visit(request, authority, need, form=form)
    cookie = request.cookies.get(sessions.cookie_name(authority))
    visit.session = sessions.find(authority, cookie, visit.client)
    visit.drop_cookie = cookie is not None and visit.session is None
    try:
        _identify(visit)
        if visit.me is None and need is not Need.PUBLIC:
            return to_sign_in(visit)
        access.check(need, visit.roles)
        if request.method == "POST":
            visit.verify()
        return page(visit)
    except Unauthorized:
        # The session's key was revoked or ran out between the checks: the session is over.
        _session_over(visit, "access key")
        return to_sign_in(visit)
    except CsrfRefused as exc:
        return visit.page("error.html", 403, title="Form refused", message=str(exc))
    except APIError as exc:
        return visit.page("error.html", exc.status, title="Not allowed", message=exc.message)


def _identify(visit: Visit) -> None:
    if visit.session is None:
        return
    try:
        visit.me = visit.call(Need.SELF, session_handlers.whoami)
    except Unauthorized:
        _session_over(visit, "access key")


def _session_over(visit: Visit, reason: str) -> None:
    if visit.session is not None:
        sessions.end(visit.authority, visit.session.id, reason=reason, client=visit.client)
    visit.session, visit.me, visit.drop_cookie = None, None, True


def to_sign_in(visit: Visit) -> Response:
    """Off to the sign-in page, coming back here afterwards (GET pages only)."""
    request = visit.request
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or back == "/":
        return visit.redirect("/sign-in")
    return visit.redirect(f"/sign-in?next={quote(back, safe='/')}")
