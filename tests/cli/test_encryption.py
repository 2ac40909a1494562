"""`jot encrypt` / `jot decrypt`: round trips through files and stdin, and clean failures."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jot.cli.main import cli
from jot.jose import jwe, jwk
from jot.jose._b64 import b64decode
from jot.jose.jwk import Key


@functools.cache
def _rsa() -> Key:
    return jwk.generate("RSA", size=2048, kid="rsa-1")


def run(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin, env=env)


def header(token: str) -> dict[str, object]:
    return json.loads(b64decode(token.split(".")[0]))  # type: ignore[no-any-return]


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    rsa, p256 = _rsa(), jwk.generate("P-256")
    secret = jwk.generate("oct", size=256, alg="A256KW", kid="shared")
    for name, data in {
        "rsa.pub.pem": rsa.to_pem(),
        "rsa.pem": rsa.to_pem(private=True, password=b"pem password"),
        "p256.pub.jwk": json.dumps(p256.public().to_dict()).encode(),
        "p256.jwk": json.dumps(p256.to_dict(private=True)).encode(),
        "oct.jwk": json.dumps(secret.to_dict(private=True)).encode(),
        "jwks.json": json.dumps({"keys": [p256.to_dict(private=True)]}).encode(),
    }.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    return paths


PEM_ENV = {"PEM_PW": "pem password"}


def test_rsa_round_trip_through_stdin(keys: dict[str, Path]) -> None:
    sealed = run("encrypt", "--key", str(keys["rsa.pub.pem"]), stdin=b"hello\x00\xff world")
    assert sealed.exit_code == 0, sealed.output
    token = sealed.output.strip()
    assert header(token) == {"alg": "RSA-OAEP-256", "enc": "A256GCM"}  # A PEM has no kid.
    opened = run("decrypt", "--key", str(keys["rsa.pem"]), "--password-env", "PEM_PW",
                 stdin=sealed.output.encode(), env=PEM_ENV)  # fmt: skip
    assert opened.exit_code == 0, opened.output
    assert opened.stdout_bytes == b"hello\x00\xff world"


def test_options_and_files(keys: dict[str, Path], tmp_path: Path) -> None:
    plaintext = tmp_path / "plain.txt"
    plaintext.write_bytes(b"x" * 5000)
    sealed = run("encrypt", "--key", str(keys["p256.pub.jwk"]), "--alg", "ECDH-ES+A192KW",
                 "--enc", "A128CBC-HS256", "--cty", "text/plain", "--zip",
                 "--in", str(plaintext))  # fmt: skip
    assert sealed.exit_code == 0, sealed.output
    token_file = tmp_path / "token.jwe"
    token_file.write_text(sealed.output)
    got = header(sealed.output.strip())
    assert (got["alg"], got["enc"], got["cty"], got["zip"]) == (
        "ECDH-ES+A192KW", "A128CBC-HS256", "text/plain", "DEF"
    )  # fmt: skip
    refused = run("decrypt", "--key", str(keys["p256.jwk"]), "--in", str(token_file))
    assert refused.exit_code == 1
    assert "allow_zip" in refused.output
    opened = run("decrypt", "--key", str(keys["jwks.json"]), "--in", str(token_file),
                 "--allow-zip", "--enc", "A128CBC-HS256")  # fmt: skip
    assert opened.exit_code == 0, opened.output
    assert opened.stdout_bytes == b"x" * 5000


def test_symmetric_key_and_password(keys: dict[str, Path]) -> None:
    sealed = run("encrypt", "--key", str(keys["oct.jwk"]), stdin=b"shared")
    assert header(sealed.output.strip())["alg"] == "A256KW"
    opened = run("decrypt", "--key", str(keys["oct.jwk"]), stdin=sealed.output.encode())
    assert opened.stdout_bytes == b"shared"
    env = {"JOT_PW": "correct horse battery staple"}
    sealed = run("encrypt", "--passphrase-env", "JOT_PW", "--p2c", "1000", stdin=b"pw", env=env)
    assert sealed.exit_code == 0, sealed.output
    assert header(sealed.output.strip())["p2c"] == 1000
    opened = run("decrypt", "--passphrase-env", "JOT_PW", stdin=sealed.output.encode(), env=env)
    assert opened.stdout_bytes == b"pw"
    wrong = run("decrypt", "--passphrase-env", "JOT_PW", stdin=sealed.output.encode(),
                env={"JOT_PW": "wrong"})  # fmt: skip
    assert wrong.exit_code == 1


def _one_line_error(result: Result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    assert text in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_failures_are_one_line(keys: dict[str, Path], tmp_path: Path) -> None:
    token = run("encrypt", "--key", str(keys["p256.pub.jwk"]), stdin=b"x").output
    other = tmp_path / "other.jwk"
    other.write_text(json.dumps(jwk.generate("P-256").to_dict(private=True)))
    _one_line_error(run("decrypt", "--key", str(other), stdin=token.encode()), 1,
                    "decryption_failed")  # fmt: skip
    _one_line_error(run("decrypt", "--key", str(keys["p256.jwk"]), stdin=b"a.b.c"), 1,
                    "malformed")  # fmt: skip
    _one_line_error(run("decrypt", "--key", str(keys["p256.pub.jwk"]), stdin=token.encode()),
                    2, "private")  # fmt: skip
    _one_line_error(run("decrypt", "--key", str(keys["p256.jwk"]), "--alg", "RSA-OAEP",
                        stdin=token.encode()), 2, "RSA-OAEP")  # fmt: skip
    _one_line_error(run("decrypt", "--key", str(keys["p256.jwk"]), stdin=b" \n"), 2, "empty")
    _one_line_error(run("encrypt", "--key", str(tmp_path / "missing.pem"), stdin=b"x"), 2,
                    "missing.pem")  # fmt: skip
    _one_line_error(run("encrypt", "--key", str(keys["p256.pub.jwk"]), "--alg", "RSA1_5",
                        stdin=b"x"), 2, "hazmat")  # fmt: skip
    _one_line_error(run("encrypt", stdin=b"x"), 2, "--key")
    _one_line_error(run("encrypt", "--passphrase-env", "UNSET_VAR_FOR_JOT", stdin=b"x"), 2,
                    "UNSET_VAR_FOR_JOT")  # fmt: skip
    _one_line_error(run("encrypt", "--key", str(keys["rsa.pub.pem"]), "--passphrase-env", "X",
                        stdin=b"x"), 2, "exactly one")  # fmt: skip
    _one_line_error(run("encrypt", "--key", str(keys["p256.pub.jwk"]),
                        stdin=b"x" * (1024 * 1024 + 1)), 2, "larger than")  # fmt: skip
    _one_line_error(run("decrypt", "--key", str(keys["rsa.pem"]), "--password-env", "UNSET_X",
                        stdin=token.encode()), 2, "UNSET_X")  # fmt: skip


def test_jwks_with_several_keys_cannot_be_encrypted_to(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk.generate("P-256").public().to_dict(),
                                         jwk.generate("P-256").public().to_dict()]}))  # fmt: skip
    _one_line_error(run("encrypt", "--key", str(jwks), stdin=b"x"), 2, "exactly one key")


def test_library_and_cli_agree(keys: dict[str, Path]) -> None:
    token = jwe.encrypt_compact(b"from the library", _rsa().public(), alg="RSA-OAEP")
    opened = run("decrypt", "--key", str(keys["rsa.pem"]), "--password-env", "PEM_PW",
                 stdin=token.encode(), env=PEM_ENV)  # fmt: skip
    assert opened.stdout_bytes == b"from the library"


def test_a_one_key_jwks_and_a_non_ascii_token(keys: dict[str, Path]) -> None:
    sealed = run("encrypt", "--key", str(keys["jwks.json"]), stdin=b"via jwks")
    assert sealed.exit_code == 0, sealed.output
    opened = run("decrypt", "--key", str(keys["jwks.json"]), stdin=sealed.output.encode())
    assert opened.stdout_bytes == b"via jwks"
    _one_line_error(run("decrypt", "--key", str(keys["p256.jwk"]), stdin="é.b".encode()), 2,
                    "UTF-8")  # fmt: skip


def test_decrypt_with_a_mixed_jwks(tmp_path: Path) -> None:
    encryption = jwk.generate("P-256")  # Unbound: ECDH-ES* allowed.
    jwks = tmp_path / "mixed.json"
    jwks.write_text(json.dumps({"keys": [
        jwk.generate("Ed25519", alg="EdDSA").to_dict(private=True),
        {**jwk.generate("P-256").to_dict(private=True), "use": "sig"},
        encryption.to_dict(private=True),
    ]}))  # fmt: skip
    token = jwe.encrypt_compact(b"mixed", encryption.public(), alg="ECDH-ES+A128KW")
    opened = run("decrypt", "--key", str(jwks), stdin=token.encode())
    assert opened.exit_code == 0, opened.output
    assert opened.stdout_bytes == b"mixed"
    signing_only = tmp_path / "signing.json"
    signing_only.write_text(json.dumps(
        {"keys": [{**jwk.generate("P-256").to_dict(private=True), "use": "sig"}]}
    ))  # fmt: skip
    _one_line_error(run("decrypt", "--key", str(signing_only), stdin=token.encode()), 2,
                    "no algorithm")  # fmt: skip
