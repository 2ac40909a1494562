"""`jot sign`: the design's default claims, claim options, algorithms and usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jot.cli.main import cli
from jot.jose import KeySet, jwk, jwt
from jot.jose.hazmat import decode_unverified

KEYS = Path(__file__).parent / "testdata" / "keys"
NOW = 1_800_000_000


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(
        cli, ["sign", *args], input=stdin, env={"JOT_NOW": str(NOW), **(env or {})}
    )


def sign(*args: str, key: str = "ed25519.jwk", **kwargs) -> str:
    result = run("--key", str(KEYS / key), *args, **kwargs)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    return result.stdout.strip()


def verify(token: str, key: str = "ed25519.pub.jwk", **options):
    public = jwk.import_key((KEYS / key).read_bytes())
    return jwt.decode_complete(token, public, now=NOW, **options)


def test_defaults_follow_the_design():
    token = sign("--iss", "https://auth.example.com", "--sub", "user:alice", "--aud", "web")
    verified = verify(token, audience="web", issuer="https://auth.example.com", typ="jot+jwt")
    claims = verified.claims
    assert list(claims) == ["iss", "sub", "aud", "iat", "nbf", "exp", "nonce", "jti"]
    assert claims["iat"] == NOW
    assert claims["nbf"] == NOW - 300
    assert claims["exp"] == NOW + 300
    assert len(claims["nonce"]) >= 16
    assert verified.header["alg"] == "EdDSA"
    assert verified.header["typ"] == "jot+jwt"
    assert verified.header["kid"] == json.loads((KEYS / "ed25519.jwk").read_text())["kid"]


def test_nonce_and_jti_are_unique():
    first, second = (decode_unverified(sign()).payload for _ in range(2))
    assert first["nonce"] != second["nonce"]
    assert first["jti"] != second["jti"]


@pytest.mark.parametrize(("lifetime", "seconds"), [("90s", 90), ("1h30m", 5400), ("600", 600)])
def test_lifetime(lifetime, seconds):
    claims = decode_unverified(sign("--lifetime", lifetime)).payload
    assert claims["exp"] - claims["iat"] == seconds


def test_claims_strings_and_json_values():
    token = sign(
        "--claim", "name=alice@example.com",
        "--claim", "groups:=[\"developers\", \"ops\"]",
        "--claim", "level:=3",
        "--claim", "code=007",
        "--claim", "empty=",
    )  # fmt: skip
    claims = decode_unverified(token).payload
    assert claims["name"] == "alice@example.com"
    assert claims["groups"] == ["developers", "ops"]
    assert claims["level"] == 3
    assert claims["code"] == "007"
    assert claims["empty"] == ""


def test_claims_json_file_and_stdin(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text(json.dumps({"name": "bob", "groups": ["ops"], "exp": NOW + 60}))
    from_file = decode_unverified(sign("--claims-json", str(path))).payload
    assert from_file["name"] == "bob"
    assert from_file["exp"] == NOW + 60  # Given claims win over the defaults.
    from_stdin = decode_unverified(
        sign("--claims-json", "-", "--claim", "name=carol", stdin=path.read_text())
    ).payload
    assert from_stdin["name"] == "carol"  # --claim wins over the file.


def test_several_audiences_make_a_list():
    claims = decode_unverified(sign("--aud", "web", "--aud", "db")).payload
    assert claims["aud"] == ["web", "db"]


def test_typ_can_be_changed_or_dropped():
    assert decode_unverified(sign("--typ", "JWT")).header["typ"] == "JWT"
    assert "typ" not in decode_unverified(sign("--typ", "")).header


@pytest.mark.parametrize(
    ("key", "alg", "public"),
    [
        ("p256.pem", "ES256", None),
        ("oct256.jwk", "HS256", None),
        ("rsa2048-encrypted.pem", "PS384", None),
        ("ed25519.pem", "Ed25519", None),
    ],
)
def test_other_keys_and_algorithms(key, alg, public):
    password_args = ["--password-env", "PW"] if "encrypted" in key else []
    token = sign("--alg", alg, *password_args, key=key, env={"PW": "correct horse"})
    assert decode_unverified(token).header["alg"] == alg
    password = b"correct horse" if "encrypted" in key else None
    verifier = jwk.import_key((KEYS / (public or key)).read_bytes(), password=password)
    assert jwt.decode(token, verifier, algorithms=[alg], now=NOW)["iat"] == NOW


def test_key_from_a_jwks_with_one_private_key(tmp_path):
    private = json.loads((KEYS / "ed25519.jwk").read_text())
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [private]}))
    assert len(KeySet.from_dict({"keys": [private]})) == 1
    assert verify(sign(key=str(path))).claims["iat"] == NOW


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--key", str(KEYS / "ed25519.pub.jwk")], "signing needs the private key"),
        (["--key", str(KEYS / "jwks.json")], "exactly one private key"),
        (["--key", str(KEYS / "ed25519.jwk"), "--alg", "RS256"], "RS256"),
        (["--key", str(KEYS / "ed25519.jwk"), "--alg", "none"], "unknown signature algorithm"),
        (["--key", str(KEYS / "ed25519.jwk"), "--lifetime", "-5m"], "--lifetime"),
        (["--key", str(KEYS / "ed25519.jwk"), "--lifetime", "0"], "must be positive"),
        (["--key", str(KEYS / "ed25519.jwk"), "--claim", "novalue"], "name=text or name:=JSON"),
        (["--key", str(KEYS / "ed25519.jwk"), "--claim", "n:={bad"], "not JSON"),
        (["--key", str(KEYS / "ed25519.jwk"), "--claims-json", "/nonexistent.json"], "No such"),
        (["--key", "-", "--claims-json", "-"], "cannot both read stdin"),
        (["--key", str(KEYS / "rsa2048-encrypted.pem")], "--password-env"),
        ([], "Missing option '--key'"),
    ],
)
def test_usage_errors_exit_2(args, fragment):
    result = run(*args, stdin="")
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_password_for_a_plain_key_is_refused():
    result = run("--key", str(KEYS / "p256.pem"), "--password-env", "PW", env={"PW": "x"})
    assert result.exit_code == 2
    assert "is not encrypted" in result.stderr


def test_claims_json_must_be_an_object(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text("[1, 2]")
    result = run("--key", str(KEYS / "ed25519.jwk"), "--claims-json", str(path))
    assert result.exit_code == 2
    assert result.stderr == f"Error: --claims-json {path}: the JSON must be an object\n"


def test_signed_token_round_trips_through_jot_verify():
    token = sign("--aud", "web", "--claim", "name=alice")
    result = CliRunner().invoke(
        cli,
        ["verify", token, "--key", str(KEYS / "ed25519.pub.jwk"), "--aud", "web", "--typ",
         "jot+jwt"],
        env={"JOT_NOW": str(NOW + 60)},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "alice"
