"""`jot decode`: golden-file output with a fixed clock, stdin, JWE, errors and colour."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from jot.cli.main import cli
from jot.cli.tokens import _commands, _render
from jot.jose import jwk, jws, jwt

TESTDATA = Path(__file__).parent / "testdata"
GOLDEN = TESTDATA / "decode"
NOW = 1_800_000_000  # 2027-01-15T08:00:00Z, handed to the CLI through JOT_NOW.

CLAIMS = {
    "iss": "https://auth.example.com",
    "sub": "user:alice",
    "aud": "web",
    "name": "alice@example.com",
    "groups": ["developers", "ops"],
    "iat": NOW - 48,
    "nbf": NOW - 348,
    "exp": NOW + 252,
    "nonce": "q3hX0sWgYbS2mJ5x0qkF2A",
    "jti": "2f1c1e43-1f4b-4a37-b25a-3d9b1c6f2a10",
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_segment(obj) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def key():
    # Ed25519 signatures are deterministic, so these tokens are the same on every run.
    return jwk.import_key((TESTDATA / "keys" / "ed25519.jwk").read_text())


def token(**changes) -> str:
    claims = {**CLAIMS, **changes}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key(), typ="jot+jwt")


def run(*args: str, stdin: str | None = None, now: str = str(NOW)):
    return CliRunner().invoke(cli, ["decode", *args], input=stdin, env={"JOT_NOW": now})


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("JOT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"output differs from {path}; JOT_UPDATE_GOLDEN=1 rewrites"


CASES = {
    "valid": {},
    "expired": {"exp": NOW - 3 * 3600 - 5, "iat": NOW - 4 * 3600, "nbf": NOW - 4 * 3600 - 300},
    "not-yet-valid": {"nbf": NOW + 90, "iat": NOW + 60, "exp": NOW + 3600},
    "odd-times": {"iat": "yesterday", "nbf": None, "exp": 2**70},
}


@pytest.mark.parametrize("case", list(CASES))
def test_decode_text_golden(case):
    result = run(token(**CASES[case]))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    check_golden(f"{case}.txt", result.stdout)


@pytest.mark.parametrize("case", list(CASES))
def test_decode_json_golden(case):
    result = run("--json", token(**CASES[case]))
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["signature_checked"] is False
    check_golden(f"{case}.json", result.stdout)


def test_decode_relative_times_and_lifetime():
    out = run(token()).stdout
    assert "issued 48s ago" in out
    assert "valid since 5m 48s ago" in out
    assert "expires in 4m 12s" in out
    assert "lifetime 5m" in out
    assert "signature was NOT checked" in out


def test_decode_negative_lifetime():
    assert "negative: exp is before iat" in run(token(exp=NOW - 100)).stdout


def test_decode_expired_says_how_long_ago():
    out = run(token(**CASES["expired"])).stdout
    assert "expired 3h ago" in out
    assert "status   expired" in out


def test_decode_reads_stdin_with_dash_and_without_argument():
    text = token()
    with_dash = run("-", stdin=text + "\n")
    without = run(stdin=text)
    assert with_dash.exit_code == without.exit_code == 0
    assert with_dash.stdout == without.stdout == run(text).stdout


def test_decode_accepts_an_authorization_header_value():
    assert run(f"Bearer {token()}").stdout == run(token()).stdout


def test_decode_jwe_shows_header_and_says_encrypted():
    header = jwt_segment({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "k1"})
    jwe = f"{header}.AAAA.AAAA.AAAA.AAAA"
    result = run(jwe)
    assert result.exit_code == 0, result.output
    check_golden("jwe.txt", result.stdout)
    view = json.loads(run("--json", jwe).stdout)
    assert view["encrypted"] is True
    assert view["payload"] is None
    assert view["header"]["enc"] == "A256GCM"


def test_decode_jws_json_general_golden():
    payload = json.dumps(CLAIMS).encode()
    signers = [jws.Signer(key(), header={"note": "first"}), jws.Signer(key())]
    general = json.dumps(jws.sign_json(payload, signers))
    result = run(stdin=general)
    assert result.exit_code == 0, result.output
    check_golden("json-general.txt", result.stdout)
    view = json.loads(run("--json", stdin=general).stdout)
    assert view["serialization"] == "JWS JSON general"
    assert view["signatures"] == 2
    assert view["unprotected_header"] == {"note": "first"}
    assert view["payload"] == CLAIMS


def test_decode_jws_json_flattened_and_unencoded_payload():
    flat = jws.sign_json(b"hello", [jws.Signer(key())], flatten=True)
    view = json.loads(run("--json", json.dumps(flat)).stdout)
    assert view["serialization"] == "JWS JSON flattened"
    assert view["payload"] == "hello"
    unencoded = jws.sign_json(b"$.02", [jws.Signer(key())], flatten=True, b64=False)
    assert json.loads(run("--json", json.dumps(unencoded)).stdout)["payload"] == "$.02"
    assert "(not JSON)" in run(json.dumps(unencoded)).stdout


def test_decode_jwe_json():
    jwe = {"protected": jwt_segment({"enc": "A256GCM"}), "unprotected": {"alg": "dir"},
           "iv": "AAAA", "ciphertext": "AAAA", "tag": "AAAA"}  # fmt: skip
    view = json.loads(run("--json", json.dumps(jwe)).stdout)
    assert view["encrypted"] is True
    assert view["header"] == {"enc": "A256GCM"}
    assert view["unprotected_header"] == {"alg": "dir"}
    assert "nothing was decrypted" in run(json.dumps(jwe)).stdout


@pytest.mark.parametrize(
    "bad",
    ['{"a": 1, "a": 2}', "[1]", "{", '{"signatures": []}', '{"signatures": [1]}',
     '{"protected": "!!"}', '{"protected": "WzFd"}', '{"payload": 5}'],
)  # fmt: skip
def test_decode_bad_json_serialization(bad):
    result = run(bad)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: invalid token (malformed)")
    assert result.stderr.count("\n") == 1


def test_decode_non_json_payload_is_shown_as_text():
    compact = f"{jwt_segment({'alg': 'HS256'})}.{b64(b'hello world')}.AAAA"
    result = run(compact)
    assert result.exit_code == 0, result.output
    assert '(not JSON) "hello world"' in result.stdout
    assert "Times" not in result.stdout


def test_decode_escapes_control_characters():
    evil = b64(b"evil \x1b[2J")
    compact = f"{jwt_segment({'alg': 'HS256'})}.{evil}.AAAA"
    assert "\x1b" not in run(compact).stdout
    odd = run(token(iat="\x1b[31mred")).stdout
    assert "\x1b" not in odd
    assert "\\u001b[31mred" in odd


@pytest.mark.parametrize("colour", [False, True])
def test_decode_escapes_c1_and_bidi_controls_but_keeps_unicode(monkeypatch, colour):
    monkeypatch.setattr(_commands, "wants_colour", lambda: colour)
    out = run(token(name="José\u009b2J\u202etxt.exe")).stdout
    assert "José" in out
    assert "\u009b" not in out
    assert "\u202e" not in out
    assert "\\u009b2J\\u202etxt.exe" in out
    as_json = run("--json", token(name="\u202e")).stdout
    assert json.loads(as_json)["payload"]["name"] == "\u202e"


@pytest.mark.parametrize(
    "bad",
    ["not-a-token", "a.b", "a.b.c.d", "!!!.e30.AAAA", f"{b64(b'[1]')}.e30.AAAA"],
    ids=["one-segment", "two", "four", "bad-base64", "header-not-object"],
)
def test_decode_malformed_exits_1_with_one_line(bad):
    result = run(bad)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: invalid token (malformed)")
    assert "Traceback" not in result.output


def test_decode_empty_input_is_a_usage_error():
    result = run(stdin="  \n")
    assert result.exit_code == 2
    assert result.stderr == "Error: the token is empty\n"


@pytest.mark.parametrize("command", ["decode", "verify"])
@pytest.mark.parametrize(
    "stdin", ["a" * (1024 * 1024 + 10), b"\xff\xfe" + b"a" * 10], ids=["oversized", "not-utf8"]
)
def test_a_stdin_token_that_cannot_be_one_is_malformed(command, stdin):
    # docs/cli.md: a malformed token exits 1; 2 is for usage mistakes.
    key = ["--key", str(Path(__file__).parent / "testdata" / "keys" / "ed25519.pub.jwk")]
    args = [command, "-", *(key if command == "verify" else [])]
    result = CliRunner().invoke(cli, args, input=stdin)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: invalid token (malformed): ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_decode_bad_jot_now_is_a_usage_error():
    result = run(token(), now="teatime")
    assert result.exit_code == 2
    assert "JOT_NOW" in result.stderr


def test_decode_accepts_iso_jot_now():
    iso_now = run(token(), now="2027-01-15T08:00:00Z").stdout
    assert iso_now == run(token()).stdout


def test_decode_plain_when_not_a_terminal():
    assert "\x1b[" not in run(token()).stdout


def test_decode_colour_on_a_terminal(monkeypatch):
    monkeypatch.setattr(_render, "wants_colour", lambda: True)
    monkeypatch.setattr(_commands, "wants_colour", lambda: True)
    result = run(token())
    assert result.exit_code == 0, result.output
    assert "\x1b[" in result.stdout
    assert "alice@example.com" in result.stdout


def test_no_color_env_disables_colour(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert _render.wants_colour() is False


@pytest.mark.parametrize("value", ["1e400", "-1e400", "1e300", "1" + "0" * 400])
@pytest.mark.parametrize("as_json", [False, True])
def test_absurd_dates_are_shown_not_crashed_on(value, as_json):
    payload = f'{{"sub":"x","iat":{value},"nbf":{value},"exp":{value}}}'
    signed = jws.sign_compact(payload.encode(), key(), headers={"typ": "jot+jwt"})
    result = run(signed, *(["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "not a NumericDate" in result.stdout or "out of range" in result.stdout
