"""The admin console: users, groups, destinations, grants, access keys, signing keys, login
providers. Every list comes from its API handler (paged there, by key), every change goes
through its API handler with the route's own access rule (:meth:`Visit.call`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from jot.api.destinations import DestinationCreate
from jot.api.identities import GroupCreate, IdentityCreate, MemberChange
from jot.api.keys import AccessKeyCreate
from jot.api.providers import ProviderCreate, ProviderUpdate
from jot.api.session import GrantCreate
from jot.authority.access import Need
from jot.authority.errors import BadRequest
from jot.authority.handlers import destinations, grants, identities, keys
from jot.authority.oidc import providers
from jot.authority.web.pages.admin_kit import (
    PAGE,
    Action,
    Field,
    Form,
    Listing,
    Row,
    Secret,
    attempt,
    ends,
    next_url,
    show,
)
from jot.authority.web.visit import Visit

__all__ = [
    "access_keys",
    "destination_create",
    "destination_delete",
    "destinations_page",
    "grant_create",
    "grant_delete",
    "grants_page",
    "group_create",
    "group_delete",
    "group_member_add",
    "group_member_remove",
    "groups_page",
    "key_create",
    "key_revoke",
    "overview",
    "provider_create",
    "provider_delete",
    "provider_update",
    "providers_page",
    "signing_keys",
    "signing_keys_rotate",
    "user_create",
    "user_delete",
    "users",
]


#: The grant form's "For" choices: seconds, or None for a grant until removed.
DURATIONS: dict[str, int | None] = {
    "until removed": None,
    "1 hour": 3600,
    "8 hours": 8 * 3600,
    "1 day": 86400,
    "7 days": 7 * 86400,
    "30 days": 30 * 86400,
}

#: The access-key form's expiry choices (seconds).
KEY_LIFETIMES: dict[str, int] = {"1 day": 86400, "7 days": 7 * 86400, "30 days": 30 * 86400,
                                 "90 days": 90 * 86400, "1 year": 365 * 86400}  # fmt: skip


def _q(visit: Visit, name: str) -> str:
    return visit.request.query_params.get(name, "")[:300]


def _f(visit: Visit, name: str) -> str:
    return visit.form.get(name, "").strip()


def _again(
    page: Callable[[Visit, int, str], Response], visit: Visit
) -> Callable[[int, str], Response]:
    return lambda status, message: page(visit, status, message)


def overview(visit: Visit) -> Response:
    return visit.redirect("/admin/users")


# -- users --------------------------------------------------------------------------------


def _users(visit: Visit, status: int = 200, error: str = "") -> Response:
    q, after = _q(visit, "q"), _q(visit, "after")
    found = visit.call(
        Need.VIEW, identities.list_identities, q=q or None, after=after or None, limit=PAGE
    ).items
    remove = "Remove {name}? Its grants, group memberships and access keys go with it."
    rows = [
        Row(
            i.name,
            [i.name, i.kind, ", ".join(i.groups) or "—", "yes" if i.has_password else "no"],
            [Action("/admin/users/delete", "Remove", {"name": i.name}, remove.format(name=i.name))],
            link=f"/admin/users/{quote(i.name, safe='@')}",
        )
        for i in found
    ]
    form = Form(
        "/admin/users",
        "Add a user or machine identity",
        [
            Field("name", "Name (an e-mail address for people)"),
            Field("kind", "Kind", options=["user", "machine"]),
            Field(
                "password",
                "Password (people only; at least 8 characters)",
                "password",
                required=False,
            ),
        ],
        "Add",
    )
    listing = Listing(
        "/admin/users",
        "Users and machine identities",
        ["Name", "Kind", "Groups", "Password"],
        rows,
        [form],
        [Field("q", "Name starts with", value=q)],
        next_url(visit, found, lambda i: i.name, q=q),
    )
    return show(visit, listing, status=status, error=error)


def users(visit: Visit) -> Response:
    return _users(visit)


def user_create(visit: Visit) -> Response:
    def act() -> str:
        body = IdentityCreate.model_validate(
            {
                "name": _f(visit, "name"),
                "kind": _f(visit, "kind") or "user",
                "password": visit.form.get("password") or None,
            }
        )
        made = visit.call(Need.ADMIN, identities.create_identity, body)
        return f"added {made.kind} {made.name}"

    return attempt(visit, "/admin/users", act, _again(_users, visit))


def user_delete(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, identities.delete_identity, _f(visit, "name"))
        return f"removed {_f(visit, 'name')}"

    return attempt(visit, "/admin/users", act, _again(_users, visit))


# -- groups -------------------------------------------------------------------------------


def _groups(visit: Visit, status: int = 200, error: str = "") -> Response:
    q, after = _q(visit, "q"), _q(visit, "after")
    found = visit.call(
        Need.VIEW, identities.list_groups, q=q or None, after=after or None, limit=PAGE
    ).items
    rows = []
    for g in found:
        actions = [
            Action(
                "/admin/groups/members/remove",
                f"Remove {m} from",
                {"group": g.name, "member": m},
            )
            for m in g.members[:20]
        ]
        actions.append(
            Action(
                "/admin/groups/delete",
                "Remove group",
                {"name": g.name},
                f"Remove the group {g.name}? Its grants go with it.",
            )
        )
        members = ", ".join(g.members[:20]) + (" …" if len(g.members) > 20 else "")
        rows.append(Row(g.name, [g.name, members or "—"], actions))
    forms = [
        Form("/admin/groups", "Add a group", [Field("name", "Name")], "Add"),
        Form(
            "/admin/groups/members",
            "Add a member",
            [Field("group", "Group"), Field("member", "Identity")],
            "Add member",
        ),
    ]
    listing = Listing(
        "/admin/groups",
        "Groups and members",
        ["Group", "Members"],
        rows,
        forms,
        [Field("q", "Name starts with", value=q)],
        next_url(visit, found, lambda g: g.name, q=q),
    )
    return show(visit, listing, status=status, error=error)


def groups_page(visit: Visit) -> Response:
    return _groups(visit)


def group_create(visit: Visit) -> Response:
    def act() -> str:
        made = visit.call(Need.ADMIN, identities.create_group, GroupCreate(name=_f(visit, "name")))
        return f"added group {made.name}"

    return attempt(visit, "/admin/groups", act, _again(_groups, visit))


def group_delete(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, identities.delete_group, _f(visit, "name"))
        return f"removed group {_f(visit, 'name')}"

    return attempt(visit, "/admin/groups", act, _again(_groups, visit))


def group_member_add(visit: Visit) -> Response:
    def act() -> str:
        body = MemberChange(name=_f(visit, "member"))
        visit.call(Need.ADMIN, identities.add_member, _f(visit, "group"), body)
        return f"added {body.name} to {_f(visit, 'group')}"

    return attempt(visit, "/admin/groups", act, _again(_groups, visit))


def group_member_remove(visit: Visit) -> Response:
    def act() -> str:
        group, member = _f(visit, "group"), _f(visit, "member")
        visit.call(Need.ADMIN, identities.remove_member, group, member)
        return f"removed {member} from {group}"

    return attempt(visit, "/admin/groups", act, _again(_groups, visit))


# -- destinations -------------------------------------------------------------------------


def _destinations(visit: Visit, status: int = 200, error: str = "") -> Response:
    q, after = _q(visit, "q"), _q(visit, "after")
    found = visit.call(
        Need.GRANTS, destinations.list_destinations, q=q or None, after=after or None, limit=PAGE
    ).items
    rows = [
        Row(
            d.name,
            [d.name, d.kind, f"{d.lifetime} s", d.group_narrowing, d.cluster_server or "—"],
            [
                Action(
                    "/admin/destinations/delete",
                    "Remove",
                    {"name": d.name},
                    f"Remove {d.name}? Its grants go with it.",
                )
            ],
            link=f"/admin/destinations/{quote(d.name)}",
        )
        for d in found
    ]
    form = Form(
        "/admin/destinations",
        "Add a destination",
        [
            Field("name", "Name"),
            Field("kind", "Kind", value="http", hint="http, kubernetes, or a name of your own"),
            Field("lifetime", "Token lifetime (seconds, 60–3600)", "number", value="300"),
            Field("group_narrowing", "Groups in its tokens", options=["all", "grants"]),
            Field(
                "cluster_server",
                "Cluster server (kubernetes)",
                "url",
                required=False,
                hint="the API server or jot proxy URL kubectl talks to, for kubeconfig downloads",
            ),
        ],
        "Add",
    )
    listing = Listing(
        "/admin/destinations",
        "Destinations",
        ["Name", "Kind", "Token lifetime", "Groups in tokens", "Cluster server"],
        rows,
        [form],
        [Field("q", "Name starts with", value=q)],
        next_url(visit, found, lambda d: d.name, q=q),
    )
    return show(visit, listing, status=status, error=error)


def destinations_page(visit: Visit) -> Response:
    return _destinations(visit)


def destination_create(visit: Visit) -> Response:
    def act() -> str:
        body = DestinationCreate.model_validate(
            {
                "name": _f(visit, "name"),
                "kind": _f(visit, "kind") or "http",
                "lifetime": _f(visit, "lifetime") or 300,
                "group_narrowing": _f(visit, "group_narrowing") or "all",
                "cluster_server": _f(visit, "cluster_server") or None,
            }
        )
        made = visit.call(Need.ADMIN, destinations.create_destination, body)
        return f"added destination {made.name}"

    return attempt(visit, "/admin/destinations", act, _again(_destinations, visit))


def destination_delete(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, destinations.delete_destination, _f(visit, "name"))
        return f"removed destination {_f(visit, 'name')}"

    return attempt(visit, "/admin/destinations", act, _again(_destinations, visit))


# -- grants -------------------------------------------------------------------------------


def _grants(visit: Visit, status: int = 200, error: str = "") -> Response:
    subject, role, resource = _q(visit, "subject"), _q(visit, "role"), _q(visit, "resource")
    after = _q(visit, "after")
    found = visit.call(
        Need.GRANTS,
        grants.list_grants,
        None,
        subject or None,
        role=role or None,
        resource=resource or None,
        after=after or None,
        limit=PAGE,
    ).items
    rows = [
        Row(
            g.id,
            [g.subject, g.role, g.resource, ends(visit, g.expires)],
            [
                Action(
                    "/admin/grants/delete",
                    "Remove",
                    {"id": g.id},
                    f"Remove {g.role} on {g.resource} from {g.subject}?",
                )
            ],
        )
        for g in found
    ]
    form = Form(
        "/admin/grants",
        "Grant a role",
        [
            Field("subject", "Subject (user:NAME or group:NAME)"),
            Field("role", "Role"),
            Field("resource", "Resource (destination or destination.sub-resource)"),
            Field("duration", "For", options=list(DURATIONS), value="until removed"),
            Field(
                "until",
                "Or until (UTC)",
                "datetime-local",
                required=False,
                hint="a time-bound grant lapses by itself (jot grants add --for/--until)",
            ),
        ],
        "Grant",
    )
    listing = Listing(
        "/admin/grants",
        "Grants",
        ["Subject", "Role", "Resource", "Ends"],
        rows,
        [form],
        [
            Field("subject", "Subject", value=subject),
            Field("role", "Role", value=role),
            Field("resource", "Resource (and its sub-resources)", value=resource),
        ],
        next_url(visit, found, lambda g: g.id, subject=subject, role=role, resource=resource),
    )
    return show(visit, listing, status=status, error=error)


def grants_page(visit: Visit) -> Response:
    return _grants(visit)


def grant_create(visit: Visit) -> Response:
    def act() -> str:
        until = _f(visit, "until")
        body = GrantCreate.model_validate(
            {
                **{k: _f(visit, k) for k in ("subject", "role", "resource")},
                "duration": DURATIONS.get(_f(visit, "duration")),
                # datetime-local has no zone; the label says UTC.
                "expires": f"{until}+00:00" if until else None,
            }
        )
        made = visit.call(Need.ADMIN, grants.create_grant, body)
        lapse = f" until {ends(visit, made.expires)}" if made.expires else ""
        return f"granted {body.role} on {body.resource} to {body.subject}{lapse}"

    return attempt(visit, "/admin/grants", act, _again(_grants, visit))


def grant_delete(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, grants.delete_grant, _f(visit, "id"))
        return f"removed grant {_f(visit, 'id')}"

    return attempt(visit, "/admin/grants", act, _again(_grants, visit))


# -- access keys and signing keys -----------------------------------------------------------


def _access_keys(
    visit: Visit, status: int = 200, error: str = "", secret: Secret | None = None
) -> Response:
    who, after = _q(visit, "identity"), _q(visit, "after")
    found = visit.call(
        Need.SELF, keys.list_access_keys, who or None, after=after or None, limit=PAGE
    ).items

    def state(k: Any) -> str:
        return "revoked" if k.revoked else "live"

    rows = [
        Row(
            k.id,
            [k.id, k.identity, k.name, _when(k.expires), _when(k.last_used), state(k)],
            []
            if k.revoked
            else [
                Action(
                    "/admin/access-keys/revoke",
                    "Revoke",
                    {"id": k.id},
                    f"Revoke {k.id} of {k.identity}, and every key made from it?",
                )
            ],
        )
        for k in found
    ]
    form = Form(
        "/admin/access-keys",
        "Make a key for an identity",
        [
            Field("identity", "Identity (a user or machine)", value=who),
            Field("name", "Key name", value="key"),
            Field("ttl", "Expires after", options=list(KEY_LIFETIMES), value="30 days"),
        ],
        "Make key",
    )
    listing = Listing(
        "/admin/access-keys",
        "Access keys",
        ["Id", "Identity", "Name", "Expires", "Last used", "State"],
        rows,
        [form],
        [Field("identity", "Identity", value=who)],
        next_url(visit, found, lambda k: k.id, identity=who),
    )
    return show(visit, listing, status=status, error=error, secret=secret)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "—"


def access_keys(visit: Visit) -> Response:
    return _access_keys(visit)


def key_create(visit: Visit) -> Response:
    """A key an admin makes for an identity (a machine has no other way to get one); it starts
    a line of its own and is shown once, on this answer only."""
    made: list[Any] = []

    def act() -> str:
        lifetime = KEY_LIFETIMES.get(_f(visit, "ttl"))
        if lifetime is None:
            raise BadRequest("choose when the key expires")
        body = AccessKeyCreate.model_validate(
            {"identity": _f(visit, "identity"), "name": _f(visit, "name") or "key", "ttl": lifetime}
        )
        # The route's own rule (the handler lets only an admin make a key for another).
        made.append(visit.call(Need.SELF, keys.create_access_key, body))
        return ""

    answer = attempt(visit, "/admin/access-keys", act, _again(_access_keys, visit))
    if not made:
        return answer
    new = made[0]
    secret = Secret(
        f"Access key “{new.key.name}” of {new.key.identity}",
        new.access_key,
        f"Shown this once: copy it now. It expires {_when(new.key.expires)} UTC.",
    )
    return _access_keys(visit, 201, secret=secret)


def key_revoke(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.SELF, keys.revoke_access_key, _f(visit, "id"))
        return f"revoked {_f(visit, 'id')}"

    return attempt(visit, "/admin/access-keys", act, _again(_access_keys, visit))


def _signing_keys(visit: Visit, status: int = 200, error: str = "") -> Response:
    found = visit.call(Need.VIEW, keys.list_signing_keys).items
    rows = [
        Row(k.kid, [k.kid, k.alg, k.state, _when(k.activates), _when(k.retires)]) for k in found
    ]
    form = Form(
        "/admin/signing-keys/rotate",
        "Emergency rotation",
        [
            Field(
                "confirm",
                "I understand: the signing key is revoked now, and every token it signed "
                "stops verifying at once",
                "checkbox",
            )
        ],
        "Rotate now",
        confirm="Revoke the signing key now? Every token it signed stops verifying.",
        danger=True,
    )
    listing = Listing(
        "/admin/signing-keys",
        "Signing keys",
        ["Key id", "Algorithm", "State", "Signs from", "Retires"],
        rows,
        [form],
        intro="Keys rotate on schedule by themselves; rotate here only when a key may be known.",
    )
    return show(visit, listing, status=status, error=error)


def signing_keys(visit: Visit) -> Response:
    return _signing_keys(visit)


def signing_keys_rotate(visit: Visit) -> Response:
    if visit.form.get("confirm") != "yes":
        return _signing_keys(visit, 400, "tick the box to confirm the rotation")

    def act() -> str:
        visit.call(Need.ADMIN, keys.rotate_signing_key)
        return "the signing key was revoked; a new one signs"

    return attempt(visit, "/admin/signing-keys", act, _again(_signing_keys, visit))


# -- login providers ------------------------------------------------------------------------


def _providers(visit: Visit, status: int = 200, error: str = "") -> Response:
    found = visit.call(Need.VIEW, providers.list_providers).items
    rows = [
        Row(
            p.name,
            [
                p.name,
                p.issuer,
                p.client_id,
                ", ".join(p.scopes),
                ", ".join(p.allowed_domains) or "any",
                f"{p.email_claim} / {p.name_claim} / {p.groups_claim}",
            ],
            [
                Action(
                    "/admin/providers/delete",
                    "Remove",
                    {"name": p.name},
                    f"Remove {p.name}? The access keys and groups that came from it go too.",
                )
            ],
        )
        for p in found
    ]
    form = Form(
        "/admin/providers",
        "Add an OpenID Connect provider",
        [
            Field("name", "Name"),
            Field("issuer", "Issuer URL", "url"),
            Field("client_id", "Client id"),
            Field("client_secret", "Client secret", "password", required=False),
        ],
        "Add",
    )
    change = Form(
        "/admin/providers/update",
        "Change a provider (empty fields stay as they are)",
        [
            Field("name", "Name"),
            Field("issuer", "Issuer URL", "url", required=False),
            Field("client_id", "Client id", required=False),
            Field("client_secret", "New client secret", "password", required=False),
            Field("scopes", "Scopes (space-separated)", required=False),
            Field("allowed_domains", "Allowed e-mail domains (space-separated)", required=False),
        ],
        "Save",
    )
    listing = Listing(
        "/admin/providers",
        "Login providers",
        ["Name", "Issuer", "Client id", "Scopes", "Domains", "Claims (e-mail / name / groups)"],
        rows,
        [form, change],
    )
    return show(visit, listing, status=status, error=error)


def providers_page(visit: Visit) -> Response:
    return _providers(visit)


def provider_create(visit: Visit) -> Response:
    def act() -> str:
        body = ProviderCreate.model_validate(
            {
                "name": _f(visit, "name"),
                "issuer": _f(visit, "issuer"),
                "client_id": _f(visit, "client_id"),
                "client_secret": visit.form.get("client_secret") or None,
            }
        )
        made = visit.call(Need.ADMIN, providers.create_provider, body)
        return f"added provider {made.name}"

    return attempt(visit, "/admin/providers", act, _again(_providers, visit))


def provider_update(visit: Visit) -> Response:
    def act() -> str:
        given = {k: _f(visit, k) for k in ("issuer", "client_id", "client_secret") if _f(visit, k)}
        for k in ("scopes", "allowed_domains"):
            if _f(visit, k):
                given[k] = _f(visit, k).split()  # type: ignore[assignment]
        body = ProviderUpdate.model_validate(given)
        made = visit.call(Need.ADMIN, providers.update_provider, _f(visit, "name"), body)
        return f"changed provider {made.name}"

    return attempt(visit, "/admin/providers", act, _again(_providers, visit))


def provider_delete(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, providers.delete_provider, _f(visit, "name"))
        return f"removed provider {_f(visit, 'name')}"

    return attempt(visit, "/admin/providers", act, _again(_providers, visit))
