"""The proxy configurations of docs/browser.md stay what is tested: the Caddy block is the
tested examples/caddy/Caddyfile (tests/web/test_caddy_signin.py runs it), and the Traefik one,
which no test can run here (no Traefik binary), names the same headers and cookie as the code
and drops what the tested nginx and Caddy configurations drop."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from jot.destination.browser_cookie import CookieJar, cookie_key
from jot.destination.forward_auth import IDENTITY_HEADERS

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "browser.md").read_text()


def _block(language: str) -> str:
    found = re.findall(rf"```{language}\n(.*?)```", DOC, re.DOTALL)
    assert len(found) == 1, f"one {language} block in docs/browser.md"
    return found[0]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and "#" not in line]


def test_the_documented_caddy_block_is_the_tested_file() -> None:
    tested = _lines((ROOT / "examples" / "caddy" / "Caddyfile").read_text())
    documented = _lines(_block("caddyfile"))
    # Every line the reader copies is in the tested file, in the same order.
    remaining = iter(tested)
    assert all(line in remaining for line in documented)
    assert len(documented) >= len(tested) - 2  # Only the tls line and the WSGI note left out.


def test_the_traefik_block_agrees_with_the_code() -> None:
    config = yaml.safe_load(_block("yaml"))["http"]
    auth = config["middlewares"]["jot"]["forwardAuth"]
    assert auth["address"].endswith("/auth")
    assert [h.lower() for h in auth["authResponseHeaders"]] == list(IDENTITY_HEADERS)
    session = CookieJar(cookie_key("secret", "web"), secure=True).session_name
    assert auth["addAuthCookiesToResponse"] == [session]
    dropped = config["middlewares"]["jot-clean"]["headers"]["customRequestHeaders"]
    underscored = {name.title().replace("-", "_"): "" for name in IDENTITY_HEADERS}
    assert dropped == {"Authorization": "", "X-Remote-User": "", "X-Remote-Group": ""} | underscored
    routers = config["routers"]
    assert routers["app"]["middlewares"] == ["jot", "jot-clean"]
    assert "PathPrefix(`/.jot/`)" in routers["app-jot"]["rule"]
    assert routers["app-jot"]["service"] == "jot"
