"""``jot destinations add/update`` registering OpenID clients, against an in-process authority."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jot.jose import jwk


def test_register_show_renew_and_remove(cli: Any, tmp_path: Path) -> None:
    out = cli(
        "destinations",
        "add",
        "web",
        "--redirect-uri",
        "https://web.example/cb",
        "--redirect-uri",
        "https://web.example/cb2",
    )
    assert "added destination web" in out
    assert "OpenID client web (client_secret_basic); redirect URIs:" in out
    assert "  https://web.example/cb2" in out
    secret = out.rsplit(": ", 1)[1].strip()
    assert secret.startswith("jot_cs_")
    shown = cli("destinations", "show", "web")
    assert "oidc client:" in shown
    assert "https://web.example/cb https://web.example/cb2" in shown
    assert secret not in shown
    renewed = json.loads(cli("destinations", "update", "web", "--new-client-secret", "--json"))
    assert renewed["oidc"]["client_secret"] not in (None, secret)
    public = json.loads(
        cli(
            "destinations",
            "update",
            "web",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1:8400/cb",
            "--json",
        )
    )
    assert public["oidc"]["auth_method"] == "none"
    assert public["oidc"]["client_secret"] is None
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [jwk.generate("Ed25519", kid="k1").public().to_dict()]}))
    signed = json.loads(
        cli(
            "destinations",
            "add",
            "db",
            "--redirect-uri",
            "https://db.example/cb",
            "--client-auth",
            "private_key_jwt",
            "--jwks-file",
            str(keys),
            "--json",
        )
    )
    assert signed["oidc"]["key_ids"] == ["k1"]
    assert cli("destinations", "update", "web", "--remove-oidc") == "updated destination web\n"
    assert json.loads(cli("destinations", "show", "web", "--json"))["oidc"] is None


def test_registration_mistakes_are_one_line(cli: Any, tmp_path: Path) -> None:
    out = cli("destinations", "add", "web", "--public", code=2)
    assert "give at least one --redirect-uri" in out
    out = cli("destinations", "add", "web", "--redirect-uri", "http://web.example/cb", code=1)
    assert (
        out
        == "Error: redirect URI 'http://web.example/cb' must use https (http only on loopback)\n"
    )
    out = cli(
        "destinations",
        "add",
        "web",
        "--redirect-uri",
        "https://w/cb",
        "--public",
        "--client-auth",
        "client_secret_post",
        code=2,
    )
    assert "exclude each other" in out
    out = cli(
        "destinations",
        "add",
        "web",
        "--redirect-uri",
        "https://w/cb",
        "--client-auth",
        "private_key_jwt",
        code=2,
    )
    assert "--jwks-file goes with --client-auth private_key_jwt" in out
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    out = cli(
        "destinations",
        "add",
        "web",
        "--redirect-uri",
        "https://w/cb",
        "--client-auth",
        "private_key_jwt",
        "--jwks-file",
        str(bad),
        code=2,
    )
    assert "is not a JWKS" in out
    out = cli("destinations", "add", "web", "--redirect-uri", "not a url", code=1)
    assert out.startswith("Error: redirect_uris")
    assert out.count("\n") == 1
    assert json.loads(cli("destinations", "list", "--json"))[-1]["name"] == "jot"
