from __future__ import annotations

import pytest
from click.testing import CliRunner

from jot.cli.main import cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forward-auth", "--name", "web"], "give --issuer"),
        (["forward-auth", "--name", "web", "--issuer", "http://auth.example"], "must be https"),
        (
            [
                "forward-auth",
                "--name",
                "web",
                "--issuer",
                "https://a.example",
                "--access-key-file",
                "/nonexistent/key",
            ],
            "cannot read",
        ),
        (
            ["proxy", "--name", "k8s", "--issuer", "https://a.example", "--upstream", "ftp://x"],
            "upstream must be",
        ),
        (
            ["webhook", "--name", "k8s", "--issuer", "https://a.example", "--tls-key", __file__],
            "both --tls-cert",
        ),
        (
            ["proxy", "--name", "web", "--issuer", "https://a.example", "--upstream",
             "http://127.0.0.1:1", "--strip-header", "X Bad"],
            "not a header name",
        ),
        (
            ["proxy", "--name", "web", "--issuer", "https://a.example", "--upstream",
             "http://127.0.0.1:1", "--allow-upgrade", "h2c, websocket"],
            "not an upgrade protocol",
        ),
        (
            ["proxy", "--name", "k8s", "--issuer", "https://a.example", "--upstream",
             "https://127.0.0.1:1", "--kubernetes", "--public-url", "https://k8s.example",
             "--client-secret-file", __file__],
            "browser sign-in is for web apps",
        ),
        (
            ["proxy", "--name", "web", "--issuer", "https://a.example", "--upstream",
             "http://127.0.0.1:1", "--public-url", "https://web.example/app",
             "--client-secret-file", __file__],
            "must be an origin",
        ),
        (
            ["proxy", "--name", "web", "--issuer", "https://a.example", "--upstream",
             "http://127.0.0.1:1", "--client-secret-file", __file__],
            "--client-secret-file needs --public-url",
        ),
    ],
    ids=["no-issuer", "http-issuer", "key-file", "upstream", "half-tls", "strip-header",
         "allow-upgrade", "browser-kubernetes", "browser-origin", "browser-no-url"],
)  # fmt: skip
def test_user_mistakes_are_one_line(args, message):
    result = CliRunner().invoke(cli, ["connector", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_jwks_file_is_one_line(tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text("{not json")
    result = CliRunner().invoke(
        cli, ["connector", "forward-auth", "--name", "web", "--jwks-file", str(jwks)]
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_listen_defaults_differ_and_host_port_are_deprecated_aliases():
    from jot.cli.connector import DEFAULT_LISTEN, _address

    assert len(set(DEFAULT_LISTEN.values())) == 3
    assert _address({"listen": "0.0.0.0:9000", "host": None, "port": None}) == ("0.0.0.0", 9000)
    assert _address({"listen": "[::1]:9000", "host": None, "port": None}) == ("::1", 9000)
    assert _address({"listen": "127.0.0.1:8081", "host": "0.0.0.0", "port": 1}) == ("0.0.0.0", 1)


def test_issuer_comes_from_jot_server_too():
    result = CliRunner().invoke(
        cli,
        ["connector", "forward-auth", "--name", "web"],
        env={"JOT_SERVER": "http://auth.example"},
    )
    assert result.exit_code == 2
    assert "must be https" in result.output  # JOT_SERVER was read as the issuer.


def test_bad_decryption_keys_are_one_line_naming_the_option(tmp_path):
    """Not a JWK, a public key, a signing key: one line each, naming --decryption-key."""
    import json

    from jot.jose import jwk

    files = {
        "empty.jwk": "{}",
        "public.jwk": json.dumps(jwk.generate("X25519").public().to_dict()),
        "signing.jwk": json.dumps(jwk.generate("Ed25519").to_dict(private=True)),
    }
    for name, text in {**files, "key": "jot_ak_x"}.items():
        (tmp_path / name).write_text(text)
    for name, message in (
        ("empty.jwk", "Invalid value for --decryption-key: "),
        ("public.jwk", "a decryption key must be the private half of a public key pair"),
        ("signing.jwk", "not a decryption key"),
    ):
        args = ["connector", "forward-auth", "--name", "web", "--issuer", "https://a.example",
                "--access-key-file", str(tmp_path / "key"),
                "--decryption-key", str(tmp_path / name)]  # fmt: skip
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert message in result.output, result.output
        assert "BadParameter" not in result.output
        assert "Traceback" not in result.output


def test_forward_auth_is_served_without_holding_heads(tmp_path, monkeypatch):
    """Forward auth's answers have no body: it asks serve() for no one-send view."""
    import json

    import jot.destination.serve
    from jot.jose import jwk

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk.generate("Ed25519").public().to_dict()]}))
    grants = tmp_path / "grants.toml"
    grants.write_text('[[grants]]\nsubject = "group:ops"\nrole = "admin"\nresource = "web"\n')
    served: dict[str, object] = {}
    monkeypatch.setattr(jot.destination.serve, "serve", lambda app, **kw: served.update(kw))
    result = CliRunner().invoke(
        cli,
        ["connector", "forward-auth", "--name", "web", "--issuer", "https://a.example",
         "--jwks-file", str(jwks), "--grants-file", str(grants)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert served["bodies"] is False
