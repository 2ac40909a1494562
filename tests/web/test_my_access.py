"""My access and the token debugger in a real browser (issue 17): a user gets a token, the
debugger shows it verified; one character changed turns the verdict red with the reason;
the token never leaves the page."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from playwright.sync_api import Page, expect

from jot.jose import jwk as jose_jwk
from tests.oidc.oidc_harness import Running

from .conftest import PASSWORD, new_user, sign_in


@pytest.fixture(scope="module")
def granted(server: Running) -> str:
    """A user in group ``dev``, which holds ``viewer`` on destination ``web``."""
    name = new_user(server)
    with server.api() as api:
        assert api.post("/api/destinations", json={"name": "web"}).status_code == 201
        assert api.post("/api/groups", json={"name": "dev"}).status_code == 201
        assert api.post("/api/groups/dev/members", json={"name": name}).is_success
        grant = {"subject": "group:dev", "role": "viewer", "resource": "web"}
        assert api.post("/api/grants", json=grant).status_code == 201
    return name


def _check(page: Page, name: str):
    return page.locator(f"#checks li[data-check='{name}']")


def test_a_user_gets_a_token_and_the_debugger_verifies_it(
    page: Page, server: Running, granted: str
) -> None:
    sign_in(page, server, granted)
    row = page.locator("#access tr[data-destination='web']")
    expect(row).to_contain_text("viewer on web through the group dev")
    row.get_by_role("button", name="Get token for web").click()
    token = page.locator("#new-token").input_value()
    assert token.count(".") == 2
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.url} {r.post_data or ''}"))
    page.get_by_role("link", name="Open in the debugger").click()
    expect(page.locator("#verdict")).to_have_text("Verified: signature and claims check out")
    expect(page.locator("#verdict")).to_have_class("ok")
    for name in ("signature", "exp", "nbf", "iss", "aud", "typ"):
        expect(_check(page, name)).to_have_class("ok")
    expect(_check(page, "aud")).to_have_text("aud: for web")
    assert "token=" not in page.url  # Taken out of the address bar.
    expect(page.locator("#claims")).to_contain_text("Audience: the one destination")

    # One character of the signature changed: red, and why.
    parts = token.split(".")
    middle = len(parts[2]) // 2
    flipped = "B" if parts[2][middle] != "B" else "C"
    tampered = ".".join([*parts[:2], parts[2][:middle] + flipped + parts[2][middle + 1 :]])
    page.locator("#token").fill(tampered)
    expect(page.locator("#verdict")).to_have_class("bad")
    expect(page.locator("#verdict")).to_contain_text("Not valid: the signature does not match")
    expect(_check(page, "signature")).to_have_class("bad")
    expect(_check(page, "exp")).to_have_class("ok")  # Only the signature is wrong.

    # The audience the person expects is another destination: red, with both names.
    page.locator("#token").fill(token)
    page.locator("#audience").fill("db")
    expect(_check(page, "aud")).to_have_text('aud: for "web", not for "db"')
    expect(page.locator("#verdict")).to_have_class("bad")
    # The only requests: the pages, their files and this authority's public keys.
    assert not [s for s in sent if token in s or tampered in s]
    assert any("/.well-known/jwks.json" in s for s in sent)


def _pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _public_jwk(key) -> dict:
    return jose_jwk.import_key(_pem(key)).to_dict()


def test_the_debugger_checks_every_family_with_a_pasted_key(page: Page, server: Running) -> None:
    now = int(time.time())
    claims = {"iss": "https://other.example", "aud": "db", "exp": now + 600, "iat": now}
    ec256, ec521 = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP521R1())
    rsa_key, ed = rsa.generate_private_key(65537, 2048), ed25519.Ed25519PrivateKey.generate()
    cases = [
        (
            "HS256",
            "a-shared-secret-of-32-bytes-long!",
            "secret",
            "a-shared-secret-of-32-bytes-long!",
        ),
        ("ES256", ec256, "pasted", _pem(ec256)),
        ("ES512", ec521, "pasted", json.dumps(_public_jwk(ec521))),
        ("RS256", rsa_key, "pasted", json.dumps({"keys": [_public_jwk(rsa_key)]})),
        ("PS384", rsa_key, "pasted", _pem(rsa_key)),
        ("EdDSA", ed, "pasted", _pem(ed)),
    ]
    page.goto(f"{server.url}/debug")
    page.locator("#issuer").fill("https://other.example")
    page.locator("#typ").fill("")
    for alg, key, source, pasted in cases:
        token = jwt.encode(claims, key, algorithm=alg)
        page.locator(f"input[name=source][value={source}]").check()
        page.locator("#key").fill(pasted)
        page.locator("#token").fill(token)
        expect(page.locator("#verdict")).to_have_class("ok", timeout=5000)
        # The same token against another key of its family is refused.
        wrong = "another-secret-another-secret-xx!" if alg == "HS256" else None
        if wrong:
            page.locator("#key").fill(wrong)
            expect(_check(page, "signature")).to_contain_text("signature does not match")

    # A public key is never an HMAC secret, whatever the header says (RFC 8725 §3.1).
    forged = jwt.encode(claims, "x" * 32, algorithm="HS256")
    page.locator("input[name=source][value=pasted]").check()
    page.locator("#key").fill(_pem(ec256))
    page.locator("#token").fill(forged)
    expect(_check(page, "signature")).to_contain_text("HS256 needs a shared secret")
    unsigned = jwt.encode(claims, None, algorithm="none")
    page.locator("#token").fill(unsigned)
    expect(page.locator("#verdict")).to_contain_text('"alg": "none" is an unsigned token')
    expired = jwt.encode({**claims, "exp": now - 3600}, ed, algorithm="EdDSA")
    page.locator("#key").fill(_pem(ed))
    page.locator("#token").fill(expired)
    expect(_check(page, "exp")).to_contain_text("expired")
    expect(_check(page, "signature")).to_have_class("ok")
    page.locator("#token").fill("not a token")
    expect(page.locator("#verdict")).to_have_text(
        "Not valid: a signed token has 3 parts separated by dots; this has 1"
    )


def test_own_keys_and_password(page: Page, server: Running) -> None:
    name = new_user(server)
    with server.api() as api:
        made = api.post("/api/access-keys", json={"identity": name, "name": "laptop"}).json()
    key_id = made["key"]["id"]
    sign_in(page, server, name)
    row = page.locator(f"#keys tr[data-key='{key_id}']")
    expect(row).to_contain_text("laptop")
    expect(page.locator("#keys")).to_contain_text("(this browser)")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Revoke {key_id}").click()
    expect(page.locator("#done")).to_have_text(f"revoked {key_id}")
    expect(page.locator(f"#keys tr[data-key='{key_id}']")).to_have_count(0)

    page.get_by_label("Current password").fill("not it")
    page.get_by_label("New password (at least 8 characters)").fill("a new horse battery")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#token-error")).to_have_text("the current password is wrong")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password (at least 8 characters)").fill("a new horse battery")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#done")).to_have_text("your password was changed")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, name, "a new horse battery")
    expect(page.locator("#me-name")).to_have_text(name)


def test_the_kubeconfig_button_downloads_what_kubectl_reads(
    page: Page, server: Running, tmp_path
) -> None:
    name = new_user(server)
    with server.api() as api:
        body = {"name": "k8s", "kind": "kubernetes", "cluster_server": "https://k8s.example:6443"}
        assert api.post("/api/destinations", json=body).status_code == 201
        grant = {"subject": f"user:{name}", "role": "view", "resource": "k8s.dev"}
        assert api.post("/api/grants", json=grant).status_code == 201
    sign_in(page, server, name)
    with page.expect_download() as download:
        page.get_by_role("link", name="Kubeconfig for k8s").click()
    assert download.value.suggested_filename == "jot-k8s.kubeconfig"
    saved = tmp_path / "jot-k8s.kubeconfig"
    download.value.save_as(saved)
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is not installed"
    shown = subprocess.run(
        [kubectl, "config", "view", "--kubeconfig", str(saved), "-o", "json"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    config = json.loads(shown.stdout)
    assert config["clusters"][0]["cluster"]["server"] == "https://k8s.example:6443"
    assert config["users"][0]["user"]["exec"]["args"][:3] == ["token", "--for", "k8s"]
    assert config["users"][0]["user"]["exec"]["args"][-2:] == ["--server", server.url]
