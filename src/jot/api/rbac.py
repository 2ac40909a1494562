"""Kubernetes RBAC for a jot destination's grants: what ``jot destinations rbac`` prints.

The connectors (proxy and TokenReview webhook) name a caller's roles to Kubernetes as groups:
``<prefix><role>`` for a grant on the whole destination (``k8s``), ``<prefix><role>:<ns>`` for
a grant on one namespace (``k8s.<ns>``). These bindings give those groups the ClusterRole of
the same name (``--cluster-role ROLE=NAME`` maps one to another): cluster-wide through a
ClusterRoleBinding, in one namespace through a RoleBinding there. Kubernetes then enforces
the namespace: a RoleBinding reaches nothing outside its namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jot.api.roles import namespace_of, role_group

__all__ = ["MANAGED_BY", "bindings"]

#: The labels on every binding, so that ``kubectl apply --prune -l …`` removes stale ones.
MANAGED_BY = "app.kubernetes.io/managed-by"
_DESTINATION_LABEL = "jot.dev/destination"
_RBAC = "rbac.authorization.k8s.io"


def _binding(
    kind: str,
    name: str,
    namespace: str | None,
    cluster_role: str,
    group: str,
    labels: dict[str, str],
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": f"{_RBAC}/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": cluster_role},
        "subjects": [{"apiGroup": _RBAC, "kind": "Group", "name": group}],
    }


def bindings(
    destination: str,
    grants: Iterable[tuple[str, str]],
    *,
    role_prefix: str,
    cluster_roles: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The bindings for ``grants`` (``(role, resource)`` pairs of one destination), sorted:
    ClusterRoleBindings first, then RoleBindings by namespace."""
    labels = {MANAGED_BY: "jot", _DESTINATION_LABEL: destination}
    cluster: set[str] = set()
    namespaced: set[tuple[str, str]] = set()
    for role, resource in grants:
        namespace = namespace_of(resource)
        if resource == destination:
            cluster.add(role)
        elif namespace is not None:  # Deeper sub-resources mean nothing to Kubernetes.
            namespaced.add((namespace, role))
    found = [
        _binding("ClusterRoleBinding", f"jot:{destination}:{role}", None,
                 cluster_roles.get(role, role), role_group(role_prefix, role), labels)
        for role in sorted(cluster)
    ]  # fmt: skip
    found += [
        _binding("RoleBinding", f"jot:{destination}:{role}", namespace,
                 cluster_roles.get(role, role), role_group(role_prefix, role, namespace), labels)
        for namespace, role in sorted(namespaced)
    ]  # fmt: skip
    return found
