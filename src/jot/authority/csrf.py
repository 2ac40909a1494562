"""Cross-site request forgery: the rule for every state-changing browser form.

A page that shows a form calls :meth:`Forms.issue`, puts :meth:`Issued.field` inside the
``<form>`` and :meth:`Issued.apply` on the response; the endpoint that takes the post calls
:meth:`Forms.verify` before it changes anything. Two independent checks, both required:

- **Origin.** A browser names the page a post comes from (``Origin``, else ``Referer``, and
  ``Sec-Fetch-Site``); a post from another site is refused. When a browser sends none of
  them, the token alone decides.
- **A token bound to the browser and the form.** The browser gets a random id in a cookie
  (``HttpOnly``, ``SameSite=Strict``, ``__Host-`` prefixed on https so a sibling subdomain
  cannot plant one); the form carries ``HMAC(key, id | action)``. Another site can neither
  read the cookie nor compute the token. The key is derived from the root key, so every
  replica and worker accepts the tokens of the others.

JSON APIs do not need this: they authenticate with a bearer header, which a browser never
adds on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["FIELD", "CsrfRefused", "Forms", "Issued"]

#: The name of the hidden form field that carries the token.
FIELD = "csrf_token"


class CsrfRefused(Exception):
    """The post did not come from one of this authority's own pages (one line, safe to show)."""


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url``, lower case, default ports dropped."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


@dataclass(frozen=True)
class Issued:
    """A form's token, and the browser id to set when the browser had none yet."""

    token: str
    browser: str
    cookie: str
    new: bool
    secure: bool

    def field(self) -> str:
        """The hidden ``<input>`` that carries the token (trusted markup)."""
        return f"<input type='hidden' name='{FIELD}' value='{escape(self.token, quote=True)}'>"

    def apply(self, response: Response) -> Response:
        if self.new:
            response.set_cookie(
                self.cookie,
                self.browser,
                path="/",
                secure=self.secure,
                httponly=True,
                samesite="strict",
            )
        return response


class Forms:
    def __init__(self, key: bytes, issuer_url: str) -> None:
        self._key = key
        self._origin = _origin(issuer_url)
        self._secure = issuer_url.startswith("https://")
        # RFC 6265bis §4.1.3.2: a __Host- cookie is Secure, host-only and Path=/.
        self._cookie = "__Host-jot_csrf" if self._secure else "jot_csrf"

    def issue(self, request: Request, action: str) -> Issued:
        """The token of the form that posts to ``action`` (a path), for this browser."""
        browser = request.cookies.get(self._cookie, "")
        new = len(browser) != 43
        if new:
            # One new id per response: a page with several forms gives them all the same one
            # (the one cookie the response sets).
            browser = getattr(request.state, "jot_csrf_browser", None) or secrets.token_urlsafe(32)
            request.state.jot_csrf_browser = browser
        return Issued(self._token(browser, action), browser, self._cookie, new, self._secure)

    def verify(self, request: Request, action: str, submitted: str | None) -> None:
        """Refuse a post to ``action`` that comes from another site or carries no valid token.

        :raises CsrfRefused: with the reason, one line.
        """
        self._check_origin(request)
        browser = request.cookies.get(self._cookie, "")
        expected = self._token(browser, action)
        if not browser or not submitted or not hmac.compare_digest(submitted, expected):
            raise CsrfRefused("this form has expired or was not sent from this page; reload it")

    def _check_origin(self, request: Request) -> None:
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise CsrfRefused("a form on another site cannot post here")
        claimed = request.headers.get("origin") or request.headers.get("referer")
        if claimed is None:
            return  # An old browser or a privacy setting: the token alone decides.
        origin = _origin(claimed)
        if origin is None or origin not in self._allowed(request):
            raise CsrfRefused("a form on another site cannot post here")

    def _allowed(self, request: Request) -> set[str]:
        # The issuer's public origin, and the origin the request was addressed to (a
        # development server reached as localhost while the issuer says 127.0.0.1).
        host = request.headers.get("host", "")
        own = {_origin(f"{scheme}://{host}") for scheme in ("http", "https")} if host else set()
        return {o for o in (self._origin, *own) if o is not None}

    def _token(self, browser: str, action: str) -> str:
        mac = hmac.new(self._key, f"{browser}|{action}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
