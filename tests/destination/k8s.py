"""The Kubernetes-front stack for tests: authority stand-in, fake API server (TLS), and a
real ``jot connector proxy --kubernetes`` process between them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jot.destination.tls import write_self_signed

from .apiserver import FakeAPIServer, run_api_server
from .authority import ACCESS_KEY, FakeAuthority
from .servers import jot_process, serve_in_thread


@dataclass
class K8sStack:
    proxy_url: str
    proxy_ca: Path
    authority: FakeAuthority
    api: FakeAPIServer
    token_file: Path


@contextlib.contextmanager
def k8s_stack(tmp: Path) -> Iterator[K8sStack]:
    authority = FakeAuthority()
    authority.set_grants(
        [
            ("group:ops", "admin", "k8s"),
            ("user:bob@example.com", "view", "k8s"),
            # Namespace grants (issue 19 item 1): erin edits in dev and views in staging.
            ("user:erin@example.com", "edit", "k8s.dev"),
            ("user:erin@example.com", "view", "k8s.staging"),
            ("group:qa", "view", "k8s.dev"),
            ("user:erin@example.com", "ignored", "k8s.dev.deeper"),
        ]
    )
    (tmp / "api").mkdir()
    (tmp / "proxy").mkdir()
    api_cert, api_key = write_self_signed(["127.0.0.1"], str(tmp / "api"))
    proxy_cert, proxy_key = write_self_signed(["127.0.0.1", "localhost"], str(tmp / "proxy"))
    api = FakeAPIServer()
    token_file = tmp / "sa-token"
    token_file.write_text(api.token + "\n")
    key_file = tmp / "access-key"
    key_file.write_text(ACCESS_KEY)
    with (
        serve_in_thread(authority.app()) as issuer,
        run_api_server(api, str(api_cert), str(api_key)) as api_url,
    ):
        authority.issuer = issuer
        args = [
            "connector", "proxy", "--kubernetes", "--issuer", issuer, "--name", "k8s",
            "--access-key-file", str(key_file), "--listen", "127.0.0.1:0", "--upstream", api_url,
            "--upstream-ca", str(api_cert), "--upstream-token-file", str(token_file),
            "--tls-cert", str(proxy_cert), "--tls-key", str(proxy_key),
        ]  # fmt: skip
        with jot_process(*args) as proxy_url:
            yield K8sStack(proxy_url, proxy_cert, authority, api, token_file)
