"""Everything the admin CLI does, the console does: every admin command has a console page
(a new command without one fails here), and the pages added for that parity — one user, one
destination, time-bound grants, keys for an identity, revocation — do what the CLI does
through the same handlers, and refuse what the API refuses."""

from __future__ import annotations

import html
import re

import click
import httpx
import pytest

from jot.authority.app import Started
from jot.authority.web.routes import PAGES
from jot.cli.main import cli

from .conftest import bearer
from .pages import form_token, person, signed_in

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"

#: Every admin command, and the console page (method, path) that does what it does.
CONSOLE: dict[str, tuple[str, str]] = {
    "users list": ("GET", "/admin/users"),
    "users show": ("GET", "/admin/users/{name}"),
    "users add": ("POST", "/admin/users"),
    "users remove": ("POST", "/admin/users/delete"),
    "users passwd": ("POST", "/admin/users/{name}/password"),
    "users rename": ("POST", "/admin/users/{name}/rename"),
    "groups list": ("GET", "/admin/groups"),
    "groups add": ("POST", "/admin/groups"),
    "groups remove": ("POST", "/admin/groups/delete"),
    "groups add-member": ("POST", "/admin/groups/members"),
    "groups remove-member": ("POST", "/admin/groups/members/remove"),
    "destinations list": ("GET", "/admin/destinations"),
    "destinations show": ("GET", "/admin/destinations/{name}"),
    "destinations add": ("POST", "/admin/destinations"),
    "destinations update": ("POST", "/admin/destinations/{name}/update"),
    "destinations remove": ("POST", "/admin/destinations/delete"),
    # The bindings are shown on a Kubernetes destination's page.
    "destinations rbac": ("GET", "/admin/destinations/{name}"),
    "grants list": ("GET", "/admin/grants"),
    "grants add": ("POST", "/admin/grants"),
    "grants remove": ("POST", "/admin/grants/delete"),
    "grants check": ("GET", "/admin/explain"),
    "access-keys list": ("GET", "/admin/access-keys"),
    "access-keys add": ("POST", "/admin/access-keys"),
    "access-keys remove": ("POST", "/admin/access-keys/revoke"),
    "signing-keys list": ("GET", "/admin/signing-keys"),
    "signing-keys rotate": ("POST", "/admin/signing-keys/rotate"),
    "providers list": ("GET", "/admin/providers"),
    "providers show": ("GET", "/admin/providers"),
    "providers add": ("POST", "/admin/providers"),
    "providers update": ("POST", "/admin/providers/update"),
    "providers remove": ("POST", "/admin/providers/delete"),
    # `jot revoke user:NAME | token JTI | list | lift ID` is one command.
    "revoke": ("POST", "/admin/revocations"),
    "audit": ("GET", "/admin/audit"),
    "requests list": ("GET", "/requests"),
    "requests show": ("GET", "/requests"),
    "requests add": ("POST", "/requests"),
    "requests approve": ("POST", "/requests/answer"),
    "requests deny": ("POST", "/requests/answer"),
    "requests cancel": ("POST", "/requests/cancel"),
}

#: Commands that are not admin work, and why the console has no page for them.
EXEMPT: dict[str, str] = {
    "token": "a person's own token: My access has the button",
    "kubeconfig": "a person's own kubeconfig: My access has the download",
    "login": "the sign-in page",
    "logout": "the sign-out button",
    "whoami": "every page names who is signed in",
    "passwd": "one's own password: My access has the form",
    "decode": "local token tool: the debugger (/debug)",
    "verify": "local token tool: the debugger (/debug)",
    "sign": "local token tool: signs with a key file on the caller's machine",
    "jwk": "local key tool: works on key files on the caller's machine",
    "encrypt": "local tool: encrypts to a key file on the caller's machine",
    "decrypt": "local tool: decrypts with a key file on the caller's machine",
    "completion": "the shell's completion script",
    "server": "runs the authority itself",
    "connector": "runs a destination-side service",
}


def _commands(group: click.Group, ctx: click.Context, prefix: str = "") -> list[str]:
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        path = f"{prefix}{name}"
        if isinstance(command, click.Group) and path not in EXEMPT:
            found += _commands(command, click.Context(command, parent=ctx), f"{path} ")
        else:
            found.append(path)
    return found


def test_every_admin_command_has_a_console_page() -> None:
    commands = _commands(cli, click.Context(cli))
    missing = [c for c in commands if c not in CONSOLE and c not in EXEMPT]
    assert missing == [], f"admin commands with no console page: {missing}"
    assert sorted(set(CONSOLE) | set(EXEMPT)) == sorted(commands)  # Nothing stale either.
    pages = {(p.method, p.path) for p in PAGES}
    assert [c for c, page in CONSOLE.items() if page not in pages] == []


# -- the pages ------------------------------------------------------------------------------


@pytest.fixture
async def root(admin: httpx.AsyncClient, admin_key: str, started: Started) -> httpx.AsyncClient:
    """A browser signed in as ``root``, an admin; ``alice``, ``vic`` (a viewer) and the
    destination ``web`` exist."""
    assert (await admin.post("/api/destinations", json={"name": "web"})).status_code == 201
    for name in ("root", "alice", "vic"):
        await person(admin, admin_key, name, PASSWORD)
    for name, role in (("root", "admin"), ("vic", "view")):
        grant = {"subject": f"user:{name}", "role": role, "resource": "jot"}
        assert (await admin.post("/api/grants", json=grant)).status_code == 201
    return await signed_in(started, "root", PASSWORD)


async def _post(browser: httpx.AsyncClient, page: str, action: str, **form: str) -> httpx.Response:
    token = form_token((await browser.get(page)).text, action)
    return await browser.post(action, data={**form, "csrf_token": token})


async def _done(browser: httpx.AsyncClient, answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    return html.unescape((await browser.get(answer.headers["location"])).text)


def _secret(page: httpx.Response) -> str:
    found = re.search(r'<textarea id="secret"[^>]*>([^<]+)</textarea>', page.text)
    assert found is not None, page.text
    return found.group(1)


async def test_a_users_password_name_and_grants(
    root: httpx.AsyncClient, admin: httpx.AsyncClient, started: Started
) -> None:
    grant = {"subject": "user:alice", "role": "editor", "resource": "web"}
    assert (await admin.post("/api/grants", json=grant)).status_code == 201
    page = html.unescape((await root.get("/admin/users/alice")).text)
    assert "User alice" in page
    assert "editor" in page
    pw = "/admin/users/alice/password"
    done = await _done(root, await _post(root, "/admin/users/alice", pw, password="new pass 123"))
    assert "set the password of alice" in done
    await (await signed_in(started, "alice", "new pass 123")).aclose()  # The new one works.
    new = "alice+ops:1@example.com"  # Every character a name may have, in a path.
    renamed = await _post(root, "/admin/users/alice", "/admin/users/alice/rename", new_name=new)
    assert f"renamed alice to {new}" in await _done(root, renamed)
    shown = (await admin.get("/api/grants", params={"subject": f"user:{new}"})).json()["items"]
    assert [g["role"] for g in shown] == ["editor"]  # The grants followed the name.
    again = await _post(
        root, f"/admin/users/{new}", f"/admin/users/{new}/password", password="x" * 9
    )
    assert f"set the password of {new}" in await _done(root, again)


async def test_a_destination_changes_and_its_new_secret_is_shown_once(
    root: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    made = {"name": "k8s", "kind": "kubernetes"}
    assert (await admin.post("/api/destinations", json=made)).status_code == 201
    grant = {"subject": "group:dev", "role": "edit", "resource": "k8s.team"}
    await admin.post("/api/groups", json={"name": "dev"})
    assert (await admin.post("/api/grants", json=grant)).status_code == 201
    here, action = "/admin/destinations/k8s", "/admin/destinations/k8s/update"
    page = html.unescape((await root.get(here)).text)
    assert "kind: RoleBinding" in page  # jot destinations rbac
    assert "namespace: team" in page
    changed = await _post(
        root, here, action, kind="kubernetes", lifetime="600", group_narrowing="grants",
        cluster_server="https://k8s.example.com:6443", cluster_ca="",
    )  # fmt: skip
    assert "changed destination k8s" in await _done(root, changed)
    row = (await admin.get("/api/destinations/k8s")).json()
    assert (row["lifetime"], row["group_narrowing"]) == (600, "grants")
    assert row["cluster_server"] == "https://k8s.example.com:6443"
    client = await _post(
        root, here, action, redirect_uris="https://app.example.com/cb",
        auth_method="client_secret_basic", logout_uris="",
    )  # fmt: skip
    assert client.status_code == 200, client.text
    secret = _secret(client)
    assert (await root.get(here)).text.count(secret) == 0  # Shown once.
    again = await _post(
        root, here, action, redirect_uris="https://app.example.com/cb",
        auth_method="client_secret_basic", new_client_secret="yes",
    )  # fmt: skip
    assert _secret(again) != secret


async def test_time_bound_grants_show_the_time_left(
    root: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    made = await _post(
        root, "/admin/grants", "/admin/grants",
        subject="user:alice", role="editor", resource="web", duration="8 hours", until="",
    )  # fmt: skip
    done = await _done(root, made)
    assert "granted editor on web to user:alice until" in done
    assert "(8h left)" in done
    (grant,) = (await admin.get("/api/grants", params={"subject": "user:alice"})).json()["items"]
    assert grant["expires"] is not None
    until = await _post(
        root, "/admin/grants", "/admin/grants",
        subject="user:alice", role="viewer", resource="web", duration="until removed",
        until="2027-01-01T12:00",
    )  # fmt: skip
    assert "until 2027-01-01 12:00" in await _done(root, until)


async def test_an_admin_makes_a_key_for_a_machine(
    root: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    assert (await admin.post("/api/users", json={"name": "ci", "kind": "machine"})).status_code
    made = await _post(
        root, "/admin/access-keys", "/admin/access-keys", identity="ci", name="deploy",
        ttl="7 days",
    )  # fmt: skip
    assert made.status_code == 201, made.text
    key = _secret(made)
    who = await admin.get("/api/whoami", headers=bearer(key))
    assert who.json()["name"] == "ci"
    assert key not in (await root.get("/admin/access-keys")).text


async def test_revoke_a_user_and_a_token_then_lift(
    root: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    key = (await admin.post("/api/access-keys", json={"identity": "alice"})).json()["access_key"]
    revoked = await _post(
        root, "/admin/revocations", "/admin/revocations", subject="user:alice", reason="left"
    )
    assert "revoked user:alice at every destination" in await _done(root, revoked)
    assert (await admin.get("/api/whoami", headers=bearer(key))).status_code == 401
    token = await _post(
        root, "/admin/revocations", "/admin/revocations/token", token="jti-123", reason=""
    )
    page = await _done(root, token)
    assert "revoked jti-123" in page
    assert "user:alice" in page  # The live list.
    (entry,) = [
        r for r in (await admin.get("/api/revocations")).json()["items"] if r["target"] == "jti-123"
    ]
    lifted = await _post(root, "/admin/revocations", "/admin/revocations/lift", id=entry["id"])
    assert f"lifted revocation {entry['id']}" in await _done(root, lifted)


# -- refusals -------------------------------------------------------------------------------


WRITES = [
    ("/admin/users/alice", "/admin/users/alice/password", {"password": "x" * 12}),
    ("/admin/users/alice", "/admin/users/alice/rename", {"new_name": "mallory"}),
    ("/admin/destinations/jot", "/admin/destinations/jot/update", {"lifetime": "900"}),
    ("/admin/access-keys", "/admin/access-keys", {"identity": "alice", "ttl": "1 day"}),
    ("/admin/revocations", "/admin/revocations", {"subject": "user:alice"}),
]


@pytest.mark.parametrize(("page", "action", "form"), WRITES)
async def test_a_viewer_sees_but_cannot_write(
    root: httpx.AsyncClient, admin: httpx.AsyncClient, started: Started,
    page: str, action: str, form: dict[str, str],
) -> None:  # fmt: skip
    viewer = await signed_in(started, "vic", PASSWORD)
    seen = await viewer.get(page)
    assert seen.status_code == 200
    assert f'method="post" action="{action}"' not in seen.text  # No form offered …
    # … and a post with a token the page would give an admin's form is refused anyway.
    token = form_token((await root.get(page)).text, action)
    refused = await viewer.post(action, data={**form, "csrf_token": token})
    assert refused.status_code == 403
    assert (await admin.get("/api/users/alice")).status_code == 200  # Not renamed.
    assert (await admin.get("/api/revocations")).json()["items"] == []
    await viewer.aclose()


@pytest.mark.parametrize(("page", "action", "form"), WRITES)
async def test_without_the_csrf_token_nothing_changes(
    root: httpx.AsyncClient, admin: httpx.AsyncClient, page: str, action: str, form: dict
) -> None:
    refused = await root.post(action, data=form)
    assert refused.status_code == 403
    assert "Form refused" in refused.text
    assert (await admin.get("/api/users/alice")).status_code == 200
    assert (await admin.get("/api/revocations")).json()["items"] == []


@pytest.mark.parametrize(
    ("page", "action", "form", "status", "message"),
    [
        ("/admin/users/alice", "/admin/users/alice/password", {"password": "short"}, 400,
         "password: Value should have at least 8"),
        ("/admin/users/alice", "/admin/users/alice/rename", {"new_name": "vic"}, 409, "vic"),
        ("/admin/destinations/jot", "/admin/destinations/jot/update", {"lifetime": "5"}, 400,
         "lifetime"),
        ("/admin/destinations/jot", "/admin/destinations/jot/update",
         {"redirect_uris": "not a url"}, 400, "redirect_uris"),
        ("/admin/destinations/jot", "/admin/destinations/jot/seal", {"key": "{"}, 400,
         "encryption key"),
        ("/admin/grants", "/admin/grants",
         {"subject": "user:alice", "role": "r", "resource": "web", "duration": "8 hours",
          "until": "2027-01-01T12:00"}, 400, "not both"),
        ("/admin/access-keys", "/admin/access-keys", {"identity": "nobody", "ttl": "1 day"},
         404, "no identity named 'nobody'"),
        ("/admin/access-keys", "/admin/access-keys", {"identity": "alice", "ttl": "forever"},
         400, "choose when the key expires"),
        ("/admin/access-keys", "/admin/access-keys", {"identity": "Root", "ttl": "1 day"},
         400, "make your own keys on My access"),
        ("/admin/revocations", "/admin/revocations", {"subject": "user:nobody"}, 404, "nobody"),
        ("/admin/revocations", "/admin/revocations", {"subject": "alice"}, 400, "subject"),
    ],
)  # fmt: skip
async def test_bad_input_is_refused_in_one_line(
    root: httpx.AsyncClient, page: str, action: str, form: dict, status: int, message: str
) -> None:
    refused = await _post(root, page, action, **form)
    assert refused.status_code == status, refused.text
    found = re.search(r'<p class="error" role="alert" id="error">([^<]*)</p>', refused.text)
    assert found is not None, refused.text
    assert message in html.unescape(found.group(1))
    assert "Traceback" not in refused.text


@pytest.mark.parametrize("page", ["/admin/users/nobody", "/admin/destinations/nowhere"])
async def test_unknown_names_are_not_found(root: httpx.AsyncClient, page: str) -> None:
    missing = await root.get(page)
    assert missing.status_code == 404
    assert "nobody" in missing.text or "nowhere" in missing.text


async def test_the_jot_destinations_form_sends_only_what_changed(
    root: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    # The form shows every field; the unchanged kind of 'jot' (which may not change) is not
    # sent again, as the CLI sends only the options given.
    kind = (await admin.get("/api/destinations/jot")).json()["kind"]
    here = "/admin/destinations/jot"
    changed = await _post(
        root, here, f"{here}/update", kind=kind, lifetime="900", group_narrowing="all",
        cluster_server="", cluster_ca="",
    )  # fmt: skip
    assert "changed destination jot" in await _done(root, changed)
    assert (await admin.get("/api/destinations/jot")).json()["lifetime"] == 900
    refused = await _post(root, here, f"{here}/update", kind="other", lifetime="900")
    assert refused.status_code == 400
    assert "cannot change" in html.unescape(refused.text)


async def test_a_provider_changes_and_an_unknown_one_is_not_found(
    root: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    made = {"name": "corp", "issuer": "https://idp.example.com", "client_id": "jot"}
    assert (await admin.post("/api/providers", json=made)).status_code == 201
    action = "/admin/providers/update"
    changed = await _post(
        root, "/admin/providers", action, name="corp", client_id="jot2",
        scopes="openid email", allowed_domains="example.com", issuer="", client_secret="",
    )  # fmt: skip
    assert "changed provider corp" in await _done(root, changed)
    row = (await admin.get("/api/providers/corp")).json()
    assert (row["client_id"], row["scopes"], row["allowed_domains"]) == (
        "jot2", ["openid", "email"], ["example.com"],
    )  # fmt: skip
    assert row["issuer"] == "https://idp.example.com"  # Empty: kept.
    missing = await _post(root, "/admin/providers", action, name="nope", client_id="x")
    assert missing.status_code == 404
    assert "nope" in html.unescape(missing.text)
