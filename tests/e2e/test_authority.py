"""End to end: a real `jot server` process driven by the real CLI."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import jwt as pyjwt
import pytest

from jot.jose import KeySet
from jot.jose import jwt as jot_jwt

from .test_authority_support import cli, run_server

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
NEW = "a new passphrase"


def test_bootstrap_login_token_revoke(tmp_path: Path) -> None:
    admin_home, alice_home = tmp_path / "admin", tmp_path / "alice"
    with run_server(tmp_path / "data") as server:
        key = server.admin_key()
        logged_in = cli(admin_home, "login", server.url, "--key-stdin", stdin=key + "\n").stdout
        assert "as admin" in logged_in
        assert "jot_ak_" not in logged_in
        for args in (
            ["users", "add", "alice@example.com", "--password-stdin"],
            ["groups", "add", "devs"],
            ["groups", "add-member", "devs", "alice@example.com"],
            ["destinations", "add", "web", "--lifetime", "120"],
            ["grants", "add", "group:devs", "viewer", "web"],
        ):
            cli(admin_home, *args, stdin=f"{PASSWORD}\n{PASSWORD}\n")
        users = json.loads(cli(admin_home, "users", "list", "--json").stdout)
        assert {u["name"] for u in users} == {"admin", "alice@example.com"}

        cli(
            alice_home, "login", server.url, "--name", "alice@example.com", "--password-stdin",
            stdin=f"{PASSWORD}\n",
        )  # fmt: skip
        credentials = alice_home / "config" / "jot" / "credentials.json"
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        assert "alice@example.com" in cli(alice_home, "whoami").stdout
        wrong = cli(alice_home, "passwd", "--password-stdin", stdin=f"not it\n{NEW}\n", check=False)
        assert wrong.returncode == 1
        assert "Error: the current password is wrong" in wrong.stderr
        assert "Traceback" not in wrong.stderr
        assert (
            "Password changed"
            in cli(alice_home, "passwd", "--password-stdin", stdin=f"{PASSWORD}\n{NEW}\n").stdout
        )
        again = tmp_path / "alice-again"
        cli(
            again, "login", server.url, "--name", "alice@example.com", "--password-stdin",
            stdin=f"{NEW}\n",
        )  # fmt: skip
        assert "alice@example.com" in cli(again, "whoami").stdout
        cli(again, "logout")  # Revokes that second key: one key of alice's is left.

        token = cli(alice_home, "token", "--for", "web").stdout.strip()
        jwks = httpx.get(f"{server.url}/.well-known/jwks.json").json()
        header = pyjwt.get_unverified_header(token)
        assert header["typ"] == "jot+jwt"
        signing = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
        claims = pyjwt.decode(
            token, pyjwt.PyJWK(signing), algorithms=["EdDSA"], audience="web", issuer=server.url
        )
        assert claims["name"] == "alice@example.com"
        assert claims["groups"] == ["devs"]
        assert claims["exp"] - claims["iat"] == 120
        assert claims["nbf"] == claims["iat"] - 300
        jwks_file = tmp_path / "jwks.json"
        jwks_file.write_text(json.dumps(jwks))
        verified = cli(
            alice_home,
            "verify",
            token,
            "--jwks",
            str(jwks_file),
            "--aud",
            "web",
            "--iss",
            server.url,
            "--typ",
            "jot+jwt",
        )
        assert "alice@example.com" in verified.stdout
        ours = jot_jwt.decode(
            token,
            KeySet.from_dict(jwks),
            algorithms=["EdDSA"],
            audience="web",
            issuer=server.url,
            typ="jot+jwt",
        )
        assert ours["jti"] == claims["jti"]

        # A cached token is returned as is; exec-credential wraps it for kubectl.
        exec_credential = json.loads(
            cli(alice_home, "token", "--for", "web", "--format", "exec-credential").stdout
        )
        assert exec_credential["kind"] == "ExecCredential"
        assert exec_credential["status"]["token"] == token

        denied = cli(alice_home, "token", "--for", "jot", "--refresh", check=False)
        assert denied.returncode == 1
        assert "no grant" in denied.stderr
        missing = cli(alice_home, "token", "--for", "nowhere", check=False)
        assert "no destination named 'nowhere'" in missing.stderr

        keys = json.loads(
            cli(
                admin_home, "access-keys", "list", "--identity", "alice@example.com", "--json"
            ).stdout
        )
        (alice_key,) = [k for k in keys if k["revoked"] is None]
        cli(admin_home, "access-keys", "remove", alice_key["id"])
        revoked = cli(alice_home, "token", "--for", "web", "--refresh", check=False)
        assert revoked.returncode == 1
        assert "revoked" in revoked.stderr
        assert "Traceback" not in revoked.stderr

        audit = json.loads(cli(admin_home, "audit", "--kind", "token.", "--json").stdout)
        assert any(e["detail"].get("jti") == claims["jti"] for e in audit)


def test_second_start_keeps_data_and_prints_no_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_server(data) as server:
        key = server.admin_key()
    with run_server(data) as server:
        assert "jot_ak_" not in server.log.read_text()
        response = httpx.get(f"{server.url}/api/whoami", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200
    assert stat.S_IMODE((data / "root.key").stat().st_mode) == 0o600


def test_two_workers_share_one_database(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text("jwks_max_age = 120\n")
    with run_server(tmp_path / "data", "--workers", "2", "--config", str(config)) as server:
        headers = {"Authorization": f"Bearer {server.admin_key()}"}
        kids = set()
        for _ in range(6):
            response = httpx.post(
                f"{server.url}/api/tokens", json={"destination": "jot"}, headers=headers
            )
            assert response.status_code == 201, response.text
            kids.add(pyjwt.get_unverified_header(response.json()["token"])["kid"])
        jwks = httpx.get(f"{server.url}/.well-known/jwks.json")
        assert jwks.headers["cache-control"] == "public, max-age=120"
        assert kids == {k["kid"] for k in jwks.json()["keys"]}
