"""`jot verify`: exit 0 with the claims, or exit 1 with the exact reason; key files and JWKS."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from jot.cli.main import cli
from jot.jose import jwk, jws, jwt

KEYS = Path(__file__).parent / "testdata" / "keys"
NOW = 1_800_000_000
PASSWORD = "correct horse"


def load(name: str):
    password = PASSWORD.encode() if "encrypted" in name else None
    return jwk.import_key((KEYS / name).read_bytes(), password=password)


def claims(**changes):
    base = {
        "iss": "https://auth.example.com",
        "sub": "user:alice",
        "aud": "web",
        "name": "alice@example.com",
        "groups": ["developers"],
        "iat": NOW - 10,
        "nbf": NOW - 310,
        "exp": NOW + 290,
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def token(key_name: str = "ed25519.jwk", typ: str = "jot+jwt", alg: str | None = None, **changes):
    return jwt.encode(claims(**changes), load(key_name), typ=typ, alg=alg)


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(
        cli, ["verify", *args], input=stdin, env={"JOT_NOW": str(NOW), **(env or {})}
    )


def key_arg(name: str = "ed25519.pub.jwk") -> list[str]:
    return ["--key", str(KEYS / name)]


def assert_rejected(result, fragment: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_valid_token_prints_claims_and_exits_0():
    result = run(token(), *key_arg(), "--aud", "web", "--iss", "https://auth.example.com")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == claims()
    assert result.stderr.startswith("valid: EdDSA signature, kid ")
    assert "expires in 4m 50s" in result.stderr


def test_token_from_stdin():
    result = run("-", *key_arg(), "--aud", "web", stdin=token() + "\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "alice@example.com"


@pytest.mark.parametrize("key_file", ["ed25519.jwk", "ed25519.pub.jwk", "ed25519.pem", "jwks.json"])
def test_key_file_formats(key_file):
    result = run(token(), *key_arg(key_file), "--aud", "web")
    assert result.exit_code == 0, result.output


def test_jwks_file_selects_by_kid():
    p256 = token("p256.pem", alg="ES256")
    kid_token = jwt.encode(
        claims(), load("p256.pem"), typ="jot+jwt", alg="ES256",
        headers={"kid": json.loads((KEYS / "jwks.json").read_text())["keys"][1]["kid"]},
    )  # fmt: skip
    assert run(kid_token, "--jwks", str(KEYS / "jwks.json"), "--aud", "web").exit_code == 0
    # Without a kid, exactly one key of the JWKS fits ES256.
    assert run(p256, "--jwks", str(KEYS / "jwks.json"), "--aud", "web").exit_code == 0


def test_expired_token_says_when():
    result = run(token(exp=NOW - 7200, nbf=NOW - 8000, iat=NOW - 7300), *key_arg(), "--aud", "web")
    assert_rejected(result, "invalid token (expired): the token expired at 2027-01-15T06:00:00Z")
    assert "(2h ago)" in result.stderr


def test_leeway_accepts_slightly_expired_token():
    expired = token(exp=NOW - 20)
    assert run(expired, *key_arg(), "--aud", "web").exit_code == 1
    assert run(expired, *key_arg(), "--aud", "web", "--leeway", "30s").exit_code == 0


def test_not_yet_valid():
    result = run(token(nbf=NOW + 60, iat=NOW - 1), *key_arg(), "--aud", "web")
    assert_rejected(result, "(not_yet_valid)")
    assert "(in 1m)" in result.stderr


def test_bad_signature():
    header, _payload, signature = token().split(".")
    forged = jwt.encode(claims(name="mallory"), load("ed25519.jwk"), typ="jot+jwt").split(".")[1]
    result = run(f"{header}.{forged}.{signature}", *key_arg(), "--aud", "web")
    assert_rejected(result, "invalid token (bad_signature): the signature does not verify")


def test_signed_by_another_key():
    other = jwk.generate("Ed25519", alg="EdDSA", kid="_uDBFAMFjJuCIjfEemrOju78BhYqlSP1Z1cjgBMbxfg")
    forged = jwt.encode(claims(), other, typ="jot+jwt")
    assert_rejected(run(forged, *key_arg(), "--aud", "web"), "(bad_signature)")


def test_wrong_audience():
    result = run(token(), *key_arg(), "--aud", "db")
    assert_rejected(result, "wrong audience: the token is for 'web', not 'db'")


def test_audience_required_when_token_names_one():
    assert_rejected(run(token(), *key_arg()), "pass --aud")


def test_claim_values_in_errors_are_escaped_and_short():
    result = run(token(aud="\x1b[2J" + "a" * 200), *key_arg(), "--aud", "web")
    assert_rejected(result, "wrong audience: the token is for '\\x1b[2Jaaa")
    assert "\x1b" not in result.stderr
    assert len(result.stderr) < 200


def test_wrong_issuer():
    result = run(token(), *key_arg(), "--aud", "web", "--iss", "https://evil.example")
    assert_rejected(result, "(invalid_issuer): wrong issuer")


def test_typ_checked_when_asked():
    plain = token(typ="JWT")
    assert run(plain, *key_arg(), "--aud", "web").exit_code == 0
    assert_rejected(run(plain, *key_arg(), "--aud", "web", "--typ", "jot+jwt"), "(invalid_type)")


def test_algorithm_not_allowed():
    result = run(token(), *key_arg(), "--aud", "web", "--alg", "ES256")
    assert result.exit_code in (1, 2)
    assert result.stderr.count("\n") == 1


def test_required_claim_missing():
    result = run(token(), *key_arg(), "--aud", "web", "--require", "jti")
    assert_rejected(result, "(missing_claim)")


def test_key_not_in_jwks():
    other = jwk.generate("Ed25519", alg="EdDSA")
    result = run(jwt.encode(claims(), other), "--jwks", str(KEYS / "jwks.json"), "--aud", "web")
    assert_rejected(result, "(key_not_found)")


def test_malformed_token():
    assert_rejected(run("abc.def", *key_arg()), "(malformed)")


def test_encrypted_pem_with_password_env():
    rsa_token = token("rsa2048-encrypted.pem", alg="PS256")
    args = [rsa_token, *key_arg("rsa2048-encrypted.pem"), "--aud", "web"]
    ok = run(*args, "--password-env", "KEY_PW", env={"KEY_PW": PASSWORD})
    assert ok.exit_code == 0, ok.output
    wrong = run(*args, "--password-env", "KEY_PW", env={"KEY_PW": "nope"})
    assert_rejected(wrong, "wrong password", code=2)
    unset = run(*args, "--password-env", "NO_SUCH_VAR_FOR_JOT")
    assert_rejected(unset, "NO_SUCH_VAR_FOR_JOT is not set", code=2)


def test_encrypted_pem_prompts_for_the_password():
    rsa_token = token("rsa2048-encrypted.pem", alg="RS256")
    args = [rsa_token, *key_arg("rsa2048-encrypted.pem"), "--aud", "web"]
    result = run(*args, stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    no_answer = run(*args, stdin="")
    assert no_answer.exit_code == 2
    assert "--password-env" in no_answer.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "exactly one of --key"),
        (["--key", "x", "--jwks", "y"], "exactly one of --key"),
        (["--key", "/nonexistent/key.pem"], "No such file or directory: /nonexistent/key.pem"),
        (["--key", str(KEYS / "ed25519.jwk"), "--leeway", "soon"], "--leeway"),
        (["--jwks", str(KEYS / "ed25519.pub.jwk")], "not a JWKS"),
        (["--jwks", "http://example.com/jwks.json"], "only on loopback"),
        (["--jwks", "ftp://example.com/jwks.json"], "not an https URL"),
        (["--jwks", "https://"], "not an https URL"),
    ],
)
def test_usage_errors_exit_2(args, fragment):
    result = run("a.b.c", *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_key_and_token_cannot_both_be_stdin():
    result = run("-", "--key", "-", stdin="x")
    assert_rejected(result, "cannot both come from stdin", code=2)


def test_hmac_key_verifies_hs256():
    result = run(token("oct256.jwk"), *key_arg("oct256.jwk"), "--aud", "web")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("valid: HS256 signature")


def test_unusable_key_file(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    result = run(token(), "--key", str(bad), "--aud", "web")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {bad}: could not load the key")


class _JWKSHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        routes = {
            "/jwks.json": (200, (KEYS / "jwks.json").read_bytes()),
            "/huge.json": (200, b'{"keys": [' + b" " * (2 * 1024 * 1024) + b"]}"),
        }
        status, body = routes.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def jwks_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JWKSHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_jwks_url_on_loopback(jwks_server):
    result = run(token(), "--jwks", f"{jwks_server}/jwks.json", "--aud", "web")
    assert result.exit_code == 0, result.output


def test_jwks_url_too_large(jwks_server):
    result = run(token(), "--jwks", f"{jwks_server}/huge.json", "--aud", "web")
    assert_rejected(result, "larger than 1048576 bytes", code=2)


def test_jwks_url_http_error(jwks_server):
    result = run(token(), "--jwks", f"{jwks_server}/missing", "--aud", "web")
    assert_rejected(result, "answered HTTP 404", code=2)


def test_jwks_url_unreachable(jwks_server):
    # A port that was free a moment ago: nothing listens there.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(token(), "--jwks", f"http://127.0.0.1:{port}/jwks.json", "--aud", "web")
    assert_rejected(result, "could not fetch", code=2)


def _raw_token(payload: str) -> str:
    return jws.sign_compact(payload.encode(), load("ed25519.jwk"), headers={"typ": "jot+jwt"})


HUGE = "1" + "0" * 400  # An integer no float holds.


@pytest.mark.parametrize(
    ("claim", "value", "code", "reason"),
    [
        # JSON reads 1e400 as infinity: not a NumericDate, and the reason shown must not
        # trip over it either (it did: OverflowError in _explain).
        ("exp", "1e400", 1, "not a NumericDate"), ("exp", "-1e400", 1, "not a NumericDate"),
        ("nbf", "1e400", 1, "not a NumericDate"), ("nbf", "-1e400", 1, "not a NumericDate"),
        ("iat", "1e400", 1, "not a NumericDate"), ("iat", "-1e400", 1, "not a NumericDate"),
        ("exp", "-1e300", 1, "expired"), ("nbf", "1e300", 1, "not valid before"),
        ("iat", "1e300", 1, "in the future"), ("exp", "-" + HUGE, 1, "expired"),
        ("nbf", HUGE, 1, "not valid before"),
        ("exp", "1e300", 0, "expires at a time out of range"),
        ("exp", HUGE, 0, "expires at a time out of range"),
    ],
)  # fmt: skip
def test_absurd_dates_in_a_signed_token_are_one_line(claim, value, code, reason):
    payload = json.dumps(claims(**{claim: None}))[:-1] + f', "{claim}": {value}}}'
    result = run(_raw_token(payload), *key_arg(), "--aud", "web")
    assert "Traceback" not in result.output
    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1, result.output
    assert reason in result.stderr
