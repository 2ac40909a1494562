"""The admin console: users, groups, destinations, grants, access keys, signing keys, login
providers. Every list comes from its API handler (paged there, by key), every change goes
through its API handler with the route's own access rule (:meth:`Visit.call`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from jot.api.destinations import DestinationCreate
from jot.api.identities import GroupCreate, IdentityCreate, MemberChange, fold_name
from jot.api.keys import AccessKeyCreate
from jot.api.providers import ProviderCreate, ProviderUpdate
from jot.api.session import GrantCreate
from jot.authority.access import Need
from jot.authority.errors import BadRequest
from jot.authority.handlers import destinations, grants, identities, keys
from jot.authority.oidc import providers
from jot.authority.web.pages.admin_kit import (
    NAME_SAFE,
    PAGE,
    Action,
    Field,
    Form,
    Listing,
    Row,
    Secret,
    again,
    attempt,
    ends,
    next_url,
    posted,
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
    "grant_row",
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
            link=f"/admin/users/{quote(i.name, safe=NAME_SAFE)}",
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
                "name": posted(visit, "name"),
                "kind": posted(visit, "kind") or "user",
                "password": visit.form.get("password") or None,
            }
        )
        made = visit.call(Need.ADMIN, identities.create_identity, body)
        return f"added {made.kind} {made.name}"

    return attempt(visit, "/admin/users", act, again(_users, visit))


def user_delete(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, identities.delete_identity, posted(visit, "name"))
        return f"removed {posted(visit, 'name')}"

    return attempt(visit, "/admin/users", act, again(_users, visit))


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
        made = visit.call(
            Need.ADMIN, identities.create_group, GroupCreate(name=posted(visit, "name"))
        )
        return f"added group {made.name}"

    return attempt(visit, "/admin/groups", act, again(_groups, visit))


def group_delete(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, identities.delete_group, posted(visit, "name"))
        return f"removed group {posted(visit, 'name')}"

    return attempt(visit, "/admin/groups", act, again(_groups, visit))


def group_member_add(visit: Visit) -> Response:
    def act() -> str:
        body = MemberChange(name=posted(visit, "member"))
        visit.call(Need.ADMIN, identities.add_member, posted(visit, "group"), body)
        return f"added {body.name} to {posted(visit, 'group')}"

    return attempt(visit, "/admin/groups", act, again(_groups, visit))


def group_member_remove(visit: Visit) -> Response:
    def act() -> str:
        group, member = posted(visit, "group"), posted(visit, "member")
        visit.call(Need.ADMIN, identities.remove_member, group, member)
        return f"removed {member} from {group}"

    return attempt(visit, "/admin/groups", act, again(_groups, visit))


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
                "name": posted(visit, "name"),
                "kind": posted(visit, "kind") or "http",
                "lifetime": posted(visit, "lifetime") or 300,
                "group_narrowing": posted(visit, "group_narrowing") or "all",
                "cluster_server": posted(visit, "cluster_server") or None,
            }
        )
        made = visit.call(Need.ADMIN, destinations.create_destination, body)
        return f"added destination {made.name}"

    return attempt(visit, "/admin/destinations", act, again(_destinations, visit))


def destination_delete(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, destinations.delete_destination, posted(visit, "name"))
        return f"removed destination {posted(visit, 'name')}"

    return attempt(visit, "/admin/destinations", act, again(_destinations, visit))


# -- grants -------------------------------------------------------------------------------


def grant_row(visit: Visit, g: Any) -> Row:
    """A grant in a table (the Grants page, a user's, a destination's), with its Remove."""
    return Row(
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
    rows = [grant_row(visit, g) for g in found]
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
        until = posted(visit, "until")
        body = GrantCreate.model_validate(
            {
                **{k: posted(visit, k) for k in ("subject", "role", "resource")},
                "duration": DURATIONS.get(posted(visit, "duration")),
                # datetime-local has no zone; the label says UTC.
                "expires": f"{until}+00:00" if until else None,
            }
        )
        made = visit.call(Need.ADMIN, grants.create_grant, body)
        lapse = f" until {ends(visit, made.expires)}" if made.expires else ""
        return f"granted {body.role} on {body.resource} to {body.subject}{lapse}"

    return attempt(visit, "/admin/grants", act, again(_grants, visit))


def grant_delete(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, grants.delete_grant, posted(visit, "id"))
        return f"removed grant {posted(visit, 'id')}"

    return attempt(visit, "/admin/grants", act, again(_grants, visit))


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
        me = visit.me.name if visit.me is not None else ""
        if fold_name(posted(visit, "identity")) == fold_name(me):
            # The handler would derive it from this browser's key: it would end at sign-out.
            raise BadRequest("make your own keys on My access (a key made here would end with "
                             "this browser session)")  # fmt: skip
        lifetime = KEY_LIFETIMES.get(posted(visit, "ttl"))
        if lifetime is None:
            raise BadRequest("choose when the key expires")
        body = AccessKeyCreate.model_validate(
            {
                "identity": posted(visit, "identity"),
                "name": posted(visit, "name") or "key",
                "ttl": lifetime,
            }
        )
        # The route's own rule (the handler lets only an admin make a key for another).
        made.append(visit.call(Need.SELF, keys.create_access_key, body))
        return ""

    answer = attempt(visit, "/admin/access-keys", act, again(_access_keys, visit))
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
        visit.call(Need.SELF, keys.revoke_access_key, posted(visit, "id"))
        return f"revoked {posted(visit, 'id')}"

    return attempt(visit, "/admin/access-keys", act, again(_access_keys, visit))


def _signing_keys(visit: Visit, status: int = 200, error: str = "") -> Response:
    found = visit.call(Need.VIEW, keys.list_signing_keys).items
    rows = [
        Row(
            k.kid,
            [k.kid, k.alg, k.state, _when(k.activates), _when(k.retires), _when(k.published_until)],
        )
        for k in found
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
        ["Key id", "Algorithm", "State", "Signs from", "Retires", "Published until"],
        rows,
        [form],
        intro="Keys rotate on schedule by themselves: next (published, signs later), active "
        "(signs now), retired (still published while its tokens live), revoked. Rotate here "
        "only when a key may be known.",
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

    return attempt(visit, "/admin/signing-keys", act, again(_signing_keys, visit))


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
                "name": posted(visit, "name"),
                "issuer": posted(visit, "issuer"),
                "client_id": posted(visit, "client_id"),
                "client_secret": visit.form.get("client_secret") or None,
            }
        )
        made = visit.call(Need.ADMIN, providers.create_provider, body)
        return f"added provider {made.name}"

    return attempt(visit, "/admin/providers", act, again(_providers, visit))


def provider_update(visit: Visit) -> Response:
    def act() -> str:
        # Empty fields stay as they are; the lists are space-separated.
        given: dict[str, Any] = {
            k: posted(visit, k) for k in ("issuer", "client_id", "client_secret")
        }
        given |= {k: posted(visit, k).split() for k in ("scopes", "allowed_domains")}
        body = ProviderUpdate.model_validate({k: v for k, v in given.items() if v})
        made = visit.call(Need.ADMIN, providers.update_provider, posted(visit, "name"), body)
        return f"changed provider {made.name}"

    return attempt(visit, "/admin/providers", act, again(_providers, visit))


def provider_delete(visit: Visit) -> Response:
    def act() -> str:
        visit.call(Need.ADMIN, providers.delete_provider, posted(visit, "name"))
        return f"removed provider {posted(visit, 'name')}"

    return attempt(visit, "/admin/providers", act, again(_providers, visit))
