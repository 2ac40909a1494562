"""One user or one destination in the console: what ``jot users show`` and ``jot destinations
show`` print (with the grants), and the changes ``jot users passwd/rename`` and ``jot
destinations update`` make — each through its API handler and the route's access rule."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import yaml
from starlette.responses import Response

from jot.api.destinations import DestinationUpdate, EncryptionKey
from jot.api.identities import IdentityUpdate
from jot.api.rbac import bindings
from jot.api.untrusted import UntrustedJSONError, loads
from jot.authority.access import Need
from jot.authority.errors import BadRequest
from jot.authority.handlers import destinations, grants, identities, sealing
from jot.authority.web.pages.admin import grant_row
from jot.authority.web.pages.admin_kit import (
    NAME_SAFE,
    Field,
    Form,
    Listing,
    Row,
    Secret,
    again,
    attempt,
    posted,
    show,
)
from jot.authority.web.visit import Visit
from jot.destination.settings import ROLE_PREFIX

__all__ = [
    "destination_page",
    "destination_seal",
    "destination_update",
    "user_page",
    "user_password",
    "user_rename",
]

#: The most grants a detail page lists (the grants page pages through the rest).
SHOWN = 200


def _name(visit: Visit) -> str:
    return str(visit.request.path_params["name"])


def _ticked(visit: Visit, name: str) -> bool:
    return visit.form.get(name) == "yes"


def _grant_rows(visit: Visit, subject: str | None, resource: str | None) -> list[Row]:
    found = visit.call(
        Need.GRANTS, grants.list_grants, None, subject, resource=resource, limit=SHOWN
    ).items
    return [grant_row(visit, g) for g in found]


# -- one user -------------------------------------------------------------------------------


def _user(visit: Visit, status: int = 200, error: str = "") -> Response:
    name = _name(visit)
    found = visit.call(Need.VIEW, identities.get_identity, name)
    here = f"/admin/users/{quote(found.name, safe=NAME_SAFE)}"
    forms = [
        Form(
            f"{here}/rename",
            "Rename",
            [Field("new_name", "New name", value=found.name)],
            "Rename",
        )
    ]
    if found.kind == "user":
        forms.insert(
            0,
            Form(
                f"{here}/password",
                "Set the password",
                [
                    Field("password", "New password (at least 8 characters)", "password"),
                    Field(
                        "revoke_keys",
                        "Also revoke every access key of this user (after a suspected leak)",
                        "checkbox",
                        required=False,
                    ),
                ],
                "Set password",
            ),
        )
    listing = Listing(
        "/admin/users",
        f"{found.kind.capitalize()} {found.name}",
        ["Subject", "Role", "Resource", "Ends"],
        _grant_rows(visit, f"user:{found.name}", None),
        forms,
        intro=(
            f"Groups: {', '.join(found.groups) or 'none'}. "
            f"Password: {'set' if found.has_password else 'none'}. "
            f"Added {found.created:%Y-%m-%d %H:%M} UTC. Its own grants below; "
            f"its groups' grants are on the Grants page (subject group:NAME)."
        ),
    )
    return show(visit, listing, status=status, error=error)


def user_page(visit: Visit) -> Response:
    return _user(visit)


def user_password(visit: Visit) -> Response:
    name = _name(visit)

    def act() -> str:
        body = IdentityUpdate.model_validate(
            {
                "password": visit.form.get("password") or None,
                "revoke_access_keys": _ticked(visit, "revoke_keys"),
            }
        )
        if body.password is None:
            raise BadRequest("give the new password")
        visit.call(Need.ADMIN, identities.update_identity, name, body)
        also = "; its access keys were revoked" if body.revoke_access_keys else ""
        return f"set the password of {name}{also}"

    return attempt(visit, f"/admin/users/{quote(name, safe=NAME_SAFE)}", act, again(_user, visit))


def user_rename(visit: Visit) -> Response:
    name = _name(visit)
    renamed = posted(visit, "new_name")

    def act() -> str:
        body = IdentityUpdate.model_validate({"name": renamed})
        visit.call(Need.ADMIN, identities.update_identity, name, body)
        return f"renamed {name} to {renamed}"

    back = f"/admin/users/{quote(renamed, safe=NAME_SAFE)}"
    return attempt(visit, back, act, again(_user, visit))


# -- one destination ------------------------------------------------------------------------


def _facts(found: Any) -> str:
    facts = [
        f"Kind {found.kind}",
        f"token lifetime {found.lifetime} s",
        f"groups in its tokens: {found.group_narrowing}",
    ]
    if found.oidc is not None:
        uris = " ".join(found.oidc.redirect_uris)
        facts.append(
            f"OpenID client {found.oidc.client_id} ({found.oidc.auth_method}), redirect URIs {uris}"
        )
    if found.encryption_key is not None:
        facts.append(f"tokens sealed to key {found.encryption_key.get('kid', '?')}")
    if found.cluster_server:
        ca = "its own CA" if found.cluster_ca else "a public CA"
        facts.append(f"cluster {found.cluster_server} ({ca})")
    return "; ".join(facts) + "."


def _rbac(visit: Visit, name: str) -> str:
    """What ``jot destinations rbac NAME`` prints (the connectors' default role prefix)."""
    found = visit.call(Need.GRANTS, grants.list_grants, name, None).items
    docs = bindings(
        name, [(g.role, g.resource) for g in found], role_prefix=ROLE_PREFIX, cluster_roles={}
    )
    return yaml.safe_dump_all(docs, sort_keys=False).rstrip("\n") if docs else ""


def _destination(
    visit: Visit, status: int = 200, error: str = "", secret: Secret | None = None
) -> Response:
    name = _name(visit)
    found = visit.call(Need.GRANTS, destinations.get_destination, name)
    here = f"/admin/destinations/{quote(found.name)}"
    oidc = found.oidc
    forms = [
        Form(
            f"{here}/update",
            "Change",
            [
                Field("kind", "Kind", value=found.kind),
                Field(
                    "lifetime",
                    "Token lifetime (seconds, 60–3600)",
                    "number",
                    value=str(found.lifetime),
                ),
                Field(
                    "group_narrowing",
                    "Groups in its tokens",
                    options=["all", "grants"],
                    value=found.group_narrowing,
                ),
                Field(
                    "cluster_server",
                    "Cluster server (kubernetes)",
                    "url",
                    required=False,
                    value=found.cluster_server or "",
                ),
                Field(
                    "cluster_ca",
                    "Cluster CA (PEM; empty: keep)",
                    "textarea",
                    required=False,
                ),
                Field("no_cluster", "Forget the cluster", "checkbox", required=False),
            ],
            "Save",
        ),
        Form(
            f"{here}/update",
            "OpenID client",
            [
                Field(
                    "redirect_uris",
                    "Redirect URIs (one a line; empty: keep the registration)",
                    "textarea",
                    required=False,
                    value="\n".join(oidc.redirect_uris) if oidc else "",
                ),
                Field(
                    "auth_method",
                    "Client authentication",
                    options=["client_secret_basic", "client_secret_post", "none"],
                    value=oidc.auth_method if oidc else "client_secret_basic",
                    hint="none: a public client (no secret; PKCE with S256 is required)",
                ),
                Field(
                    "logout_uris",
                    "Post-logout redirect URIs (one a line)",
                    "textarea",
                    required=False,
                    value="\n".join(oidc.post_logout_redirect_uris) if oidc else "",
                ),
                Field("new_client_secret", "Make a new client secret", "checkbox", required=False),
                Field("remove_oidc", "No longer an OpenID client", "checkbox", required=False),
            ],
            "Save",
        ),
        Form(
            f"{here}/seal",
            "Sealed tokens",
            [
                Field(
                    "key",
                    "Public JWK the tokens are encrypted to (empty: keep)",
                    "textarea",
                    required=False,
                ),
                Field("unseal", "Signed only again (forget the key)", "checkbox", required=False),
            ],
            "Save",
        ),
    ]
    rbac = _rbac(visit, found.name) if found.kind == "kubernetes" else ""
    listing = Listing(
        "/admin/destinations",
        f"Destination {found.name}",
        ["Subject", "Role", "Resource", "Ends"],
        _grant_rows(visit, None, found.name),
        forms,
        intro=_facts(found),
        text=rbac,
        text_title="Kubernetes RBAC (jot destinations rbac; kubectl apply -f -)" if rbac else "",
    )
    return show(visit, listing, status=status, error=error, secret=secret)


def destination_page(visit: Visit) -> Response:
    return _destination(visit)


def _lines(visit: Visit, name: str) -> list[str]:
    return [line.strip() for line in visit.form.get(name, "").splitlines() if line.strip()]


def _update_body(visit: Visit, current: Any) -> DestinationUpdate:
    """The update the posted form asks for: the form of the basics (what differs from
    ``current``, as the CLI sends only the options given), or the OpenID client's."""
    if "redirect_uris" in visit.form:
        uris = _lines(visit, "redirect_uris")
        oidc = None
        if uris:
            oidc = {
                "redirect_uris": uris,
                "auth_method": posted(visit, "auth_method") or "client_secret_basic",
                "post_logout_redirect_uris": _lines(visit, "logout_uris"),
            }
        return DestinationUpdate.model_validate(
            {
                "oidc": oidc,
                "new_client_secret": _ticked(visit, "new_client_secret"),
                "remove_oidc": _ticked(visit, "remove_oidc"),
            }
        )
    given = {k: posted(visit, k) for k in ("kind", "lifetime", "group_narrowing", "cluster_server")}
    changed = {k: v for k, v in given.items() if v and v != str(getattr(current, k) or "")}
    return DestinationUpdate.model_validate(
        {
            **changed,
            "cluster_ca": visit.form.get("cluster_ca", "").strip() or None,
            "remove_cluster": _ticked(visit, "no_cluster"),
        }
    )


def destination_update(visit: Visit) -> Response:
    name = _name(visit)
    made: list[str] = []

    def act() -> str:
        current = visit.call(Need.GRANTS, destinations.get_destination, name)
        body = _update_body(visit, current)
        result = visit.call(Need.ADMIN, destinations.update_destination, name, body)
        if result.oidc is not None and result.oidc.client_secret is not None:
            made.append(result.oidc.client_secret)
        return f"changed destination {name}"

    shown = attempt(visit, f"/admin/destinations/{quote(name)}", act, again(_destination, visit))
    if not made:
        return shown
    # A new client secret: shown on this answer only, never in a URL.
    secret = Secret(
        f"The client secret of {name}",
        made[0],
        "Shown this once: give it to the client now; the old one stopped working.",
    )
    return _destination(visit, secret=secret)


def destination_seal(visit: Visit) -> Response:
    name = _name(visit)

    def act() -> str:
        if _ticked(visit, "unseal"):
            visit.call(Need.GRANTS, sealing.remove_encryption_key, name)
            return f"tokens for {name} are signed only"
        try:
            key = loads(visit.form.get("key", "").strip() or "null")
        except UntrustedJSONError as exc:
            raise BadRequest(f"encryption key: {exc}") from None
        if key is None:
            raise BadRequest("paste the public JWK, or tick 'signed only'")
        stored = visit.call(
            Need.GRANTS,
            sealing.set_encryption_key,
            name,
            EncryptionKey.model_validate({"key": key}),
        )
        return f"tokens for {name} are sealed to {stored.get('kid')}"

    return attempt(visit, f"/admin/destinations/{quote(name)}", act, again(_destination, visit))
