"""Support for the integration tests (no tests here): a real ``jot server`` process with the
users, groups, destinations, grants and machine identities that the destination side needs,
and logged-in CLI homes for each person."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .test_authority_support import Server, cli, run_server

__all__ = ["PEOPLE", "Realm", "realm"]

#: Who exists: alice is in ``ops``; bob has a grant on a sub-resource only; carol has none.
PEOPLE = ("alice@example.com", "bob@example.com", "carol@example.com")
DESTINATIONS = (("web", "http"), ("db", "http"), ("k8s", "kubernetes"))
GRANTS = (
    ("group:ops", "admin", "web"),
    ("user:alice@example.com", "editor", "web.admin-panel"),
    ("user:bob@example.com", "viewer", "web.reports"),
    ("user:alice@example.com", "reader", "db"),
    ("group:ops", "admin", "k8s"),
    ("user:bob@example.com", "view", "k8s"),
)


@dataclass
class Realm:
    """The running authority and the keys and CLI homes around it."""

    server: Server
    tmp: Path
    admin_home: Path
    homes: dict[str, Path] = field(default_factory=dict)
    #: Machine identity name → its access key (``web-connector`` has the connector role).
    machine_keys: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def jot(self, who: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``jot ARGS`` as ``who`` (a person's name, or ``admin``)."""
        home = self.admin_home if who == "admin" else self.homes[who]
        return cli(home, *args, check=check)

    def token(self, who: str, destination: str, *, refresh: bool = False) -> str:
        """A real token from ``jot token --for DESTINATION`` (the CLI's cached one, unless
        ``refresh``)."""
        args = ["token", "--for", destination, *(["--refresh"] if refresh else [])]
        return self.jot(who, *args).stdout.strip()

    def key_file(self, machine: str) -> Path:
        path = self.tmp / f"{machine}.key"
        path.write_text(self.machine_keys[machine] + "\n")
        path.chmod(0o600)
        return path


def _post(api: httpx.Client, path: str, body: dict[str, object]) -> dict[str, object]:
    response = api.post(path, json=body)
    if response.status_code != 201 and not (response.status_code == 200 and "members" in path):
        raise AssertionError(f"POST {path} {body}: {response.status_code} {response.text}")
    return dict(response.json())


def _populate(api: httpx.Client, found: Realm) -> dict[str, str]:
    """Everything through the admin API (fast); the CLI is what the tests themselves drive."""
    person_keys = {}
    for name in PEOPLE:
        found.ids[name] = str(_post(api, "/api/users", {"name": name})["id"])
        key = _post(api, "/api/access-keys", {"identity": name})
        person_keys[name] = str(key["access_key"])
    _post(api, "/api/groups", {"name": "ops"})
    _post(api, "/api/groups/ops/members", {"name": "alice@example.com"})
    for name, kind in DESTINATIONS:
        _post(api, "/api/destinations", {"name": name, "kind": kind})
    for subject, role, resource in GRANTS:
        _post(api, "/api/grants", {"subject": subject, "role": role, "resource": resource})
    # nosy is a machine identity without the connector role.
    _post(api, "/api/users", {"name": "nosy", "kind": "machine"})
    found.machine_keys["nosy"] = str(
        _post(api, "/api/access-keys", {"identity": "nosy"})["access_key"]
    )
    return person_keys


def _add_connector(found: Realm) -> None:
    """The destination's machine identity, exactly as docs/destinations.md tells how."""
    found.jot("admin", "users", "add", "web-connector", "--machine")
    # The same connector identity serves both destinations of the suite: one grant each.
    for destination in ("web", "k8s"):
        found.jot("admin", "grants", "add", "user:web-connector", "connector", f"jot.{destination}")
    key = found.jot("admin", "access-keys", "add", "web-connector", "--name", "web").stdout
    found.machine_keys["web-connector"] = key.strip()


@contextlib.contextmanager
def realm(tmp: Path) -> Iterator[Realm]:
    """A running authority with :data:`PEOPLE`, their grants and logged-in CLI homes."""
    with run_server(tmp / "data") as server:
        admin_key = server.admin_key()
        found = Realm(server=server, tmp=tmp, admin_home=tmp / "admin")
        headers = {"Authorization": f"Bearer {admin_key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as api:
            person_keys = _populate(api, found)
        logins = {found.admin_home: admin_key}
        for name, key in person_keys.items():
            found.homes[name] = tmp / name.partition("@")[0]
            logins[found.homes[name]] = key
        # Real `jot login`s, side by side: each is a process start, the slow part here.
        with ThreadPoolExecutor(len(logins)) as pool:
            done = [
                pool.submit(cli, home, "login", server.url, "--key-stdin", stdin=key + "\n")
                for home, key in logins.items()
            ]
            for future in done:
                future.result()
        _add_connector(found)
        yield found
