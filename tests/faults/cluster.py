"""A whole deployment of real processes for fault scenarios: PostgreSQL and Redis of the
test's own, two `jot server` replicas on them, nginx balancing between the replicas, and a
forward-auth connector that reaches the authority through nginx. Any part can be killed,
stopped, frozen and started again."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import string
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.destination.servers import JOT, free_port, stop, wait_for_port
from tests.e2e.test_nginx import NGINX_MAIN as NGINX_E2E
from tests.e2e.test_nginx import nginx_binary

from .procs import OwnPostgres, OwnRedis, own_postgres, own_redis

_ALNUM = string.ascii_letters + string.digits

# The balancer: test_nginx.py's main file, with room for the load, and this server block.
NGINX_MAIN = NGINX_E2E.replace("worker_connections 64;", "worker_connections 1024;")
BALANCER = """
upstream jot_authority {{
    server 127.0.0.1:{one} max_fails=1 fail_timeout=2s;
    server 127.0.0.1:{two} max_fails=1 fail_timeout=2s;
    keepalive 32;
}}
server {{
    listen 127.0.0.1:{port};
    location / {{
        proxy_pass http://jot_authority;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_connect_timeout 1s;
        proxy_read_timeout 90s;
        # A replica that is gone (killed, restarting): the other one. POSTs too: jot's
        # writes are safe to repeat (a second create is a 409, a second token or key is one
        # more that nobody uses). A 503 (the database is down) is passed on: the other
        # replica shares that database, and marking both failed would turn the next answers
        # into nginx's own 502s.
        proxy_next_upstream error timeout non_idempotent;
        proxy_next_upstream_tries 2;
    }}
}}
"""


def _access_key() -> str:
    pick = lambda n: "".join(secrets.choice(_ALNUM) for _ in range(n))  # noqa: E731
    return f"jot_ak_{pick(12)}_{pick(32)}"


@dataclass
class Proc:
    """One `jot` process that can be killed and started again on the same port."""

    args: list[str]
    env: dict[str, str]
    log: Path
    port: int
    ready_path: str = "/readyz"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [JOT, *self.args], stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **self.env}, start_new_session=True,
            )  # fmt: skip
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 90) -> float:
        """Seconds until it answers its readiness path with 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.args[0]} exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"{self.args[0]} not ready:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@dataclass
class Cluster:
    pg: OwnPostgres
    redis: OwnRedis
    replicas: list[Proc]
    lb: str
    forward_auth: Proc
    admin_key: str
    user_key: str
    tmp: Path
    logs: list[Path] = field(default_factory=list)

    def admin(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return httpx.Client(base_url=self.lb, headers=headers, timeout=10)

    def all_logs(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.logs if path.exists())


def _nginx(prefix: Path, one: int, two: int) -> tuple[subprocess.Popen[bytes], str]:
    (prefix / "tmp").mkdir(parents=True)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(NGINX_MAIN.format(prefix=prefix, user=user))
    (prefix / "jot.conf").write_text(BALANCER.format(one=one, two=two, port=port))
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-e", str(prefix / "error.log"),
         "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(port, timeout=10)
    return process, f"http://127.0.0.1:{port}"


def _setup(api: httpx.Client, tmp: Path) -> tuple[str, Path]:
    """A user with a grant on `web`, and the connector's machine identity and key."""

    def post(path: str, body: dict[str, object]) -> dict[str, object]:
        response = api.post(path, json=body)
        assert response.status_code == 201, (path, response.status_code, response.text)
        return dict(response.json())

    post("/api/destinations", {"name": "web"})
    post("/api/users", {"name": "alice@example.com"})
    post("/api/grants", {"subject": "user:alice@example.com", "role": "viewer", "resource": "web"})
    user_key = str(post("/api/access-keys", {"identity": "alice@example.com"})["access_key"])
    post("/api/users", {"name": "web-connector", "kind": "machine"})
    post(
        "/api/grants", {"subject": "user:web-connector", "role": "connector", "resource": "jot.web"}
    )
    key_file = tmp / "connector.key"
    key_file.write_text(str(post("/api/access-keys", {"identity": "web-connector"})["access_key"]))
    key_file.chmod(0o600)
    return user_key, key_file


@contextlib.contextmanager
def cluster(tmp: Path, *, statement_timeout: float = 1.0) -> Iterator[Cluster]:
    with own_postgres() as pg, own_redis(tmp / "redis") as redis:
        admin_key = _access_key()
        ports = [free_port(), free_port()]
        common = {
            "JOT_DATABASE_URL": pg.url,
            "JOT_REDIS_URL": redis.url,
            "JOT_ROOT_KEY": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),
            "JOT_BOOTSTRAP_KEY": admin_key,
            "JOT_DATABASE_STATEMENT_TIMEOUT": str(statement_timeout),
            "JOT_DATABASE_CONNECT_TIMEOUT": "2",
        }
        nginx, lb = _nginx(tmp / "nginx", *ports)
        replicas = []
        for n, port in enumerate(ports):
            args = ["server", "--data-dir", str(tmp / f"replica{n}"),
                    "--listen", f"127.0.0.1:{port}", "--issuer", lb]  # fmt: skip
            replicas.append(Proc(args, {**common}, tmp / f"replica{n}.log", port))
        try:
            replicas[0].start()  # Migrates and bootstraps first; the second finds it done.
            replicas[1].start()
            with httpx.Client(
                base_url=lb, headers={"Authorization": f"Bearer {admin_key}"}, timeout=10
            ) as api:
                user_key, key_file = _setup(api, tmp)
            fa_port = free_port()
            forward_auth = Proc(
                ["connector", "forward-auth", "--issuer", lb, "--name", "web",
                 "--access-key-file", str(key_file), "--listen", f"127.0.0.1:{fa_port}"],
                {}, tmp / "forward-auth.log", fa_port, ready_path="/healthz",
            )  # fmt: skip
            forward_auth.start()
            found = Cluster(
                pg, redis, replicas, lb, forward_auth, admin_key, user_key, tmp,
                logs=[r.log for r in replicas] + [forward_auth.log],
            )  # fmt: skip
            yield found
        finally:
            for proc in [*replicas, *([forward_auth] if "forward_auth" in locals() else [])]:
                with contextlib.suppress(Exception):
                    proc.stop()
            stop(nginx)
