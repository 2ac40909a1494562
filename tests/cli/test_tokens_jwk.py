"""`jot jwk generate|thumbprint|convert|public`: formats, 0600 files, no silent overwrite."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from jot.cli.main import cli
from jot.cli.tokens._jwk import KEY_TYPES
from jot.jose import jwk, jwt

KEYS = Path(__file__).parent / "testdata" / "keys"

# RFC 7638 §3.1: the example key and its thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
    "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6We"
    "Zu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["jwk", *args], input=stdin, env=env)


def ok(*args: str, **kwargs) -> str:
    result = run(*args, **kwargs)
    assert result.exit_code == 0, result.output
    return result.stdout


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# The slow RSA sizes are generated once, in the 0600 test below; X25519 and X448 keys
# cannot sign (they are tested with the encryption keys).
FAST_TYPES = [name for name in KEY_TYPES if name not in ("rsa3072", "rsa4096", "x25519", "x448")]


@pytest.mark.parametrize("key_type", FAST_TYPES)
def test_generate_jwk_is_private_bound_and_signs(key_type):
    data = json.loads(ok("generate", "--type", key_type))
    key = jwk.import_key(data)
    assert key.is_private
    assert key.alg is not None
    assert key.kid == key.thumbprint()
    token = jwt.encode({"exp": 2**31}, key)
    assert jwt.decode(token, key, now=0) == {"exp": 2**31}


def test_generate_with_alg_and_kid():
    data = json.loads(ok("generate", "--type", "rsa2048", "--alg", "PS256", "--kid", "k-1"))
    assert (data["alg"], data["kid"], data["kty"]) == ("PS256", "k-1", "RSA")


@pytest.mark.parametrize("key_type", ["rsa3072", "rsa4096"])
def test_generate_pem_to_a_0600_file(tmp_path, key_type):
    out = tmp_path / "key.pem"
    result = run("generate", "--type", key_type, "--format", "pem", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "mode 0600" in result.stderr
    assert mode(out) == 0o600
    assert out.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert jwk.import_key(out.read_bytes()).size == int(key_type[3:])


def test_generate_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "key.jwk"
    out.write_text("precious")
    result = run("generate", "--type", "ed25519", "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {out} exists; pass --force to overwrite it\n"
    assert out.read_text() == "precious"


def test_generate_force_replaces_and_tightens_mode(tmp_path):
    out = tmp_path / "key.jwk"
    out.write_text("old")
    out.chmod(0o644)
    ok("generate", "--type", "ed25519", "--out", str(out), "--force")
    assert mode(out) == 0o600
    assert jwk.import_key(out.read_bytes()).is_private
    assert [p.name for p in tmp_path.iterdir()] == ["key.jwk"]  # No temporary file left.


def test_generate_does_not_follow_a_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    link = tmp_path / "key.jwk"
    link.symlink_to(target)
    result = run("generate", "--type", "ed25519", "--out", str(link))
    assert result.exit_code == 2
    assert not target.exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--type", "dsa1024"], "Invalid value for '--type'"),
        (["--type", "oct256", "--format", "pem"], "no PEM form"),
        (["--type", "ed25519", "--alg", "RS256"], "RS256 needs a RSA key"),
        (["--type", "oct256", "--alg", "HS512"], "at least 64 bytes"),
        (["--type", "ed25519", "--alg", "ES999"], "unknown key management algorithm 'ES999'"),
        (["--type", "ed25519", "--out", "/nonexistent/dir/key"], "No such file or directory"),
    ],
)
def test_generate_usage_errors(args, fragment):
    result = run("generate", *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_thumbprint_matches_the_key_and_reads_stdin():
    expected = jwk.import_key((KEYS / "ed25519.pub.jwk").read_bytes()).thumbprint()
    assert ok("thumbprint", str(KEYS / "ed25519.pub.jwk")) == expected + "\n"
    assert ok("thumbprint", stdin=(KEYS / "ed25519.jwk").read_text()) == expected + "\n"
    assert ok("thumbprint", "-", stdin=(KEYS / "ed25519.pem").read_text()) == expected + "\n"
    uri = ok("thumbprint", "--uri", str(KEYS / "ed25519.pub.jwk"))
    assert uri == f"urn:ietf:params:oauth:jwk-thumbprint:sha-256:{expected}\n"
    assert len(ok("thumbprint", "--hash", "sha512", str(KEYS / "p256.pem")).strip()) == 86


def test_thumbprint_rfc7638_example():
    assert ok("thumbprint", stdin=json.dumps(RFC7638_KEY)) == RFC7638_THUMBPRINT + "\n"


def test_thumbprint_of_a_jwks_is_refused():
    result = run("thumbprint", str(KEYS / "jwks.json"))
    assert result.exit_code == 2
    assert "give a single key" in result.stderr


def test_convert_pem_to_jwk_and_back(tmp_path):
    data = json.loads(ok("convert", str(KEYS / "p256.pem"), "--alg", "ES256"))
    assert (data["kty"], data["alg"]) == ("EC", "ES256")
    assert "d" in data
    assert data["kid"] == jwk.import_key(data).thumbprint()
    jwk_file = tmp_path / "p256.jwk"
    jwk_file.write_text(json.dumps(data))
    pem = ok("convert", str(jwk_file))
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert jwk.import_key(pem.encode()) == jwk.import_key((KEYS / "p256.pem").read_bytes())


def test_convert_public_key_and_explicit_target():
    pem = ok("convert", "--to", "pem", str(KEYS / "ed25519.pub.jwk"))
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    again = json.loads(ok("convert", "--to", "jwk", stdin=pem))
    assert "d" not in again


def test_convert_private_key_to_a_0600_file(tmp_path):
    out = tmp_path / "key.jwk"
    ok("convert", str(KEYS / "ed25519.pem"), "--out", str(out))
    assert mode(out) == 0o600
    assert run("convert", str(KEYS / "ed25519.pem"), "--out", str(out)).exit_code == 2


def test_convert_encrypted_pem_with_password():
    args = ["convert", str(KEYS / "rsa2048-encrypted.pem"), "--password-env", "PW"]
    data = json.loads(ok(*args, env={"PW": "correct horse"}))
    assert data["kty"] == "RSA"
    assert "d" in data
    result = run("convert", str(KEYS / "rsa2048-encrypted.pem"), stdin="wrong\n")
    assert result.exit_code == 2
    assert "wrong password" in result.stderr


def test_convert_oct_to_pem_is_refused():
    result = run("convert", str(KEYS / "oct256.jwk"))
    assert result.exit_code == 2
    assert "no PEM form" in result.stderr


def test_public_strips_private_parts_keeping_format(tmp_path):
    public = json.loads(ok("public", str(KEYS / "ed25519.jwk")))
    assert public == json.loads((KEYS / "ed25519.pub.jwk").read_text())
    pem = ok("public", str(KEYS / "p256.pem"))
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    as_jwk = json.loads(ok("public", "--format", "jwk", stdin=(KEYS / "p256.pem").read_text()))
    assert set(as_jwk) >= {"kty", "crv", "x", "y"}
    assert "d" not in as_jwk
    out = tmp_path / "pub.pem"
    ok("public", str(KEYS / "p256.pem"), "--out", str(out))
    assert mode(out) == 0o644


def test_public_of_a_jwks(tmp_path):
    private = json.loads((KEYS / "ed25519.jwk").read_text())
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [private, {"kty": "nope"}]}))
    result = run("public", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["keys"] == [json.loads((KEYS / "ed25519.pub.jwk").read_text())]
    assert "key #1 skipped" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["public", str(KEYS / "oct256.jwk")], "no public part"),
        (["public", "--format", "pem", str(KEYS / "jwks.json")], "no single PEM form"),
        (["public", "/nonexistent.pem"], "No such file or directory"),
        (["convert", str(KEYS / "jwks.json")], "give a single key"),
    ],
)
def test_public_and_convert_usage_errors(args, fragment):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_garbage_key_input_is_one_line():
    result = run("public", stdin="this is not a key")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: stdin: could not load the key")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("key_type", "alg", "expected_alg"),
    [("x25519", None, "ECDH-ES"), ("x448", None, "ECDH-ES"), ("p256", "ECDH-ES+A128KW", None),
     ("rsa2048", "RSA-OAEP-256", None), ("oct256", "A256KW", None)],
)  # fmt: skip
def test_generate_encryption_keys(key_type, alg, expected_alg):
    args = ["generate", "--type", key_type] + (["--alg", alg] if alg else [])
    generated = json.loads(ok(*args))
    assert generated["alg"] == (expected_alg or alg)
    assert generated["use"] == "enc"


def test_generate_refuses_an_encryption_alg_that_does_not_fit():
    result = run("generate", "--type", "ed25519", "--alg", "RSA-OAEP-256")
    assert result.exit_code == 2
    assert "RSA-OAEP-256 needs a RSA key" in result.stderr
