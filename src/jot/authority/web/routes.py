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
from jot.authority.web.pages import (
    admin,
    admin_detail,
    debug,
    home,
    insight,
    requests,
    revocations,
    signin,
)
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
    Page("GET", "/kubeconfig", home.kubeconfig, Need.SELF),
    Page("POST", "/keys", home.create_key, Need.SELF),
    Page("POST", "/keys/revoke", home.revoke_key, Need.SELF),
    Page("POST", "/password", home.change_password, Need.SELF),
    Page("GET", "/debug", debug.debugger, Need.PUBLIC),
    Page("GET", "/sign-in", signin.sign_in_form, Need.PUBLIC),
    Page("POST", "/sign-in", signin.sign_in, Need.PUBLIC),
    Page("POST", "/sign-out", signin.sign_out, Need.SELF),
    # Access requests: everyone asks; whoever the handler lets answer (approver or admin)
    # answers; the page's own rule only asks for someone signed in.
    Page("GET", "/requests", requests.requests_page, Need.SELF),
    Page("POST", "/requests", requests.ask, Need.SELF),
    Page("POST", "/requests/answer", requests.answer, Need.SELF),
    Page("POST", "/requests/cancel", requests.cancel, Need.SELF),
    # The admin console: reading needs view (or admin), changing needs admin, as in the API.
    Page("GET", "/admin", admin.overview, Need.VIEW),
    Page("GET", "/admin/users", admin.users, Need.VIEW),
    Page("POST", "/admin/users", admin.user_create, Need.ADMIN),
    Page("POST", "/admin/users/delete", admin.user_delete, Need.ADMIN),
    Page("GET", "/admin/users/{name}", admin_detail.user_page, Need.VIEW),
    Page("POST", "/admin/users/{name}/password", admin_detail.user_password, Need.ADMIN),
    Page("POST", "/admin/users/{name}/rename", admin_detail.user_rename, Need.ADMIN),
    Page("GET", "/admin/groups", admin.groups_page, Need.VIEW),
    Page("POST", "/admin/groups", admin.group_create, Need.ADMIN),
    Page("POST", "/admin/groups/delete", admin.group_delete, Need.ADMIN),
    Page("POST", "/admin/groups/members", admin.group_member_add, Need.ADMIN),
    Page("POST", "/admin/groups/members/remove", admin.group_member_remove, Need.ADMIN),
    Page("GET", "/admin/destinations", admin.destinations_page, Need.VIEW),
    Page("POST", "/admin/destinations", admin.destination_create, Need.ADMIN),
    Page("POST", "/admin/destinations/delete", admin.destination_delete, Need.ADMIN),
    Page("GET", "/admin/destinations/{name}", admin_detail.destination_page, Need.VIEW),
    Page("POST", "/admin/destinations/{name}/update", admin_detail.destination_update, Need.ADMIN),
    Page("POST", "/admin/destinations/{name}/seal", admin_detail.destination_seal, Need.ADMIN),
    Page("GET", "/admin/grants", admin.grants_page, Need.VIEW),
    Page("POST", "/admin/grants", admin.grant_create, Need.ADMIN),
    Page("POST", "/admin/grants/delete", admin.grant_delete, Need.ADMIN),
    Page("GET", "/admin/explain", insight.explain_page, Need.VIEW),
    Page("GET", "/admin/access-keys", admin.access_keys, Need.VIEW),
    Page("POST", "/admin/access-keys", admin.key_create, Need.ADMIN),
    Page("POST", "/admin/access-keys/revoke", admin.key_revoke, Need.ADMIN),
    Page("GET", "/admin/signing-keys", admin.signing_keys, Need.VIEW),
    Page("POST", "/admin/signing-keys/rotate", admin.signing_keys_rotate, Need.ADMIN),
    Page("GET", "/admin/providers", admin.providers_page, Need.VIEW),
    Page("POST", "/admin/providers", admin.provider_create, Need.ADMIN),
    Page("POST", "/admin/providers/update", admin.provider_update, Need.ADMIN),
    Page("POST", "/admin/providers/delete", admin.provider_delete, Need.ADMIN),
    Page("GET", "/admin/revocations", revocations.revocations_page, Need.VIEW),
    Page("POST", "/admin/revocations", revocations.revoke, Need.ADMIN),
    Page("POST", "/admin/revocations/token", revocations.revoke_token, Need.ADMIN),
    Page("POST", "/admin/revocations/lift", revocations.lift, Need.ADMIN),
    Page("GET", "/admin/audit", insight.audit_page, Need.VIEW),
    Page("GET", "/admin/audit/tail", insight.audit_tail, Need.VIEW),
]


def install(app: FastAPI) -> None:
    for page in PAGES:
        route = Route(page.path, endpoint(page.page, page.need), methods=[page.method])
        route.methods = {page.method}  # Starlette adds HEAD to GET; the pages need none.
        app.router.routes.append(route)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="web-static")
