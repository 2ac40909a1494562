"""Providers through the API and `jot providers`: CRUD, the secret sealed at rest and never
shown, admin-only, audited; removing a provider revokes its logins."""

from __future__ import annotations

import json

import httpx
from click.testing import CliRunner, Result
from sqlalchemy import select
from test_oidc_browser import login

from jot.authority.oidc.models import Provider
from jot.cli.main import cli
from jot.cli.providers import providers


def test_secret_is_sealed_and_never_returned(server, provider) -> None:
    with server.api() as api:
        shown = api.get(f"/api/providers/{provider}").json()
        listed = api.get("/api/providers").text
    assert shown["has_client_secret"] is True
    assert shown["redirect_uri"] == f"{server.url}/oidc/{provider}/callback"
    assert shown["scopes"] == ["openid", "email", "profile"]
    assert "s3cret" not in json.dumps(shown) + listed
    with server.authority.db.transaction(write=False) as session:
        row = session.scalars(select(Provider)).one()
    assert row.client_secret_enc is not None
    assert b"s3cret" not in row.client_secret_enc


def test_crud_and_validation(server, provider) -> None:
    with server.api() as api:
        again = api.post(
            "/api/providers",
            json={"name": provider, "issuer": "https://x.example", "client_id": "c"},
        )
        assert again.status_code == 409
        bad = api.post(
            "/api/providers", json={"name": "x", "issuer": "ftp://nope", "client_id": "c"}
        )
        assert bad.status_code == 400
        extra = api.post(
            "/api/providers", json={"name": "y", "issuer": "https://y", "client_id": "c", "oops": 1}
        )
        assert extra.status_code == 400
        changed = api.patch(
            f"/api/providers/{provider}",
            json={"allowed_domains": ["Example.com"], "client_secret": "new"},
        )
        assert changed.status_code == 200
        assert changed.json()["allowed_domains"] == ["example.com"]
        assert api.delete("/api/providers/nope").status_code == 404
        kinds = [
            e["kind"] for e in api.get("/api/audit", params={"kind": "provider."}).json()["items"]
        ]
    assert kinds == ["provider.updated", "provider.created"]


def test_allowed_domains(server, provider, idp, browser) -> None:
    with server.api() as api:
        api.patch(f"/api/providers/{provider}", json={"allowed_domains": ["corp.example"]})
    idp.set_user("outsider", email="outsider@example.com")
    page = login(browser, server, provider, "outsider")
    assert page.status_code == 400
    assert "e-mail addresses at example.com may not log in here" in page.text


def test_non_admin_cannot_manage_providers(server, provider, user, browser) -> None:
    page = login(browser, server, provider, user)
    start = page.text.index("jot_ak_")
    key = page.text[start : start + 52]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.get("/api/providers").status_code == 403
        assert (
            api.post(
                "/api/providers", json={"name": "z", "issuer": "https://z", "client_id": "c"}
            ).status_code
            == 403
        )


def test_removing_a_provider_revokes_its_logins(server, provider, user, browser) -> None:
    page = login(browser, server, provider, user)
    start = page.text.index("jot_ak_")
    key = page.text[start : start + 52]
    me = httpx.get(f"{server.url}/api/whoami", headers={"Authorization": f"Bearer {key}"})
    assert me.json()["groups"] == ["dev", "ops"]
    with server.api() as api:
        assert api.delete(f"/api/providers/{provider}").status_code == 204
        user_row = api.get(f"/api/users/{user}@example.com").json()
    assert user_row["groups"] == []  # The provider's groups went with it; the user stays.
    gone = httpx.get(f"{server.url}/api/whoami", headers={"Authorization": f"Bearer {key}"})
    assert gone.status_code == 401


def test_providers_cli(server, idp, tmp_path) -> None:
    runner = CliRunner(env={"XDG_CONFIG_HOME": str(tmp_path / "c")})

    def run(command, *args: str, stdin: str = "") -> Result:
        return runner.invoke(command, list(args), input=stdin, catch_exceptions=False)

    assert (
        run(cli, "login", server.url, "--key-stdin", stdin=server.admin_key + "\n").exit_code == 0
    )
    added = run(
        providers,
        "add",
        "corp",
        "--issuer",
        idp.issuer,
        "--client-id",
        "cli",
        "--client-secret-stdin",
        "--allowed-domain",
        "example.com",
        stdin="hush\n",
    )
    assert added.exit_code == 0, added.output
    assert (
        f"register this redirect URI at the provider: {server.url}/oidc/corp/callback"
        in added.stdout
    )
    listed = run(providers, "list", "--json")
    assert json.loads(listed.stdout)[0]["has_client_secret"] is True
    assert "hush" not in listed.stdout
    table = run(providers, "list")
    assert "corp" in table.stdout
    updated = run(providers, "update", "corp", "--groups-claim", "roles")
    assert updated.exit_code == 0, updated.output
    assert json.loads(run(providers, "show", "corp").stdout)["groups_claim"] == "roles"
    wrong = run(providers, "add", "bad", "--issuer", "not-a-url", "--client-id", "c")
    assert wrong.exit_code == 1
    assert wrong.stderr.strip().splitlines()[-1].startswith("Error: issuer:")
    assert run(providers, "remove", "corp", "--yes").exit_code == 0
    missing = run(providers, "remove", "corp")
    assert missing.exit_code == 1
    assert "no provider named 'corp'" in missing.stderr
