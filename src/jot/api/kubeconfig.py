"""Kubernetes: the cluster a Kubernetes destination names, and the kubeconfig entries that
reach it with ``jot token`` as kubectl's exec credential plugin.

One builder for both ends: ``jot kubeconfig`` merges these entries into a local file, and the
web console's "My access" offers a file made of them alone. Plain dicts: the caller writes
them as YAML.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from jot.api._base import Response

__all__ = ["Cluster", "ClusterServer", "entries", "merge"]

#: The address kubectl talks to: the Kubernetes API server, or the jot proxy in front of it.
ClusterServer = Annotated[str, Field(max_length=2048, pattern=r"^https?://[^\s/?#@]+(/[^\s?#]*)?$")]


class Cluster(Response):
    """``GET /api/clusters/{destination}``: what a kubeconfig needs to reach a Kubernetes
    destination, for someone the authority issues tokens for it."""

    destination: str
    #: The API server (or proxy) URL.
    server: str
    #: The PEM of the CA that signed the server's certificate, base64 (kubeconfig's
    #: ``certificate-authority-data``); None: the system's trust store.
    certificate_authority_data: str | None = None

    def entry(self) -> dict[str, Any]:
        """The kubeconfig's ``cluster``."""
        found: dict[str, Any] = {"server": self.server}
        if self.certificate_authority_data is not None:
            found["certificate-authority-data"] = self.certificate_authority_data
        return found


def entries(
    destination: str, cluster: dict[str, Any], jot_server: str, command: str
) -> dict[str, dict[str, Any]]:
    """The ``clusters``, ``users`` and ``contexts`` entries named ``jot-DESTINATION``: kubectl
    runs ``COMMAND token --for DESTINATION --format exec-credential --server JOT_SERVER``."""
    name = f"jot-{destination}"
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": command,
            "args": [
                "token", "--for", destination, "--format", "exec-credential",
                "--server", jot_server,
            ],
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }  # fmt: skip
    return {
        "clusters": {"name": name, "cluster": cluster},
        "users": {"name": name, "user": user},
        "contexts": {"name": name, "context": {"cluster": name, "user": name}},
    }


def merge(config: dict[str, Any], new: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``config`` (a kubeconfig, ``{}`` for a new one) with ``new`` (:func:`entries`) in place
    of the entries of the same names."""
    config.setdefault("apiVersion", "v1")
    config.setdefault("kind", "Config")
    for section, entry in new.items():
        items = [item for item in config.get(section) or [] if item.get("name") != entry["name"]]
        config[section] = [*items, entry]
    return config
