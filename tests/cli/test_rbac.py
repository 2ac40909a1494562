"""``jot destinations rbac``: the Kubernetes bindings for a destination's grants, valid for
the Kubernetes schemas, cluster-wide and per namespace."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import yaml


def test_bindings_for_cluster_and_namespace_grants(cli: Any) -> None:
    cli("destinations", "add", "k8s", "--kind", "kubernetes")
    cli("groups", "add", "ops")
    for subject, role, resource in (
        ("group:ops", "admin", "k8s"),
        ("user:admin", "edit", "k8s.dev"),
        ("group:ops", "view", "k8s.dev"),
        ("group:ops", "view", "k8s.staging"),
        ("group:ops", "view", "k8s.staging.deeper"),  # No Kubernetes meaning: no binding.
    ):
        cli("grants", "add", subject, role, resource)
    out = cli("destinations", "rbac", "k8s", "--cluster-role", "admin=cluster-admin")
    docs = list(yaml.safe_load_all(out))
    for doc in docs:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    shown = [
        (d["kind"], d["metadata"].get("namespace"), d["roleRef"]["name"], d["subjects"][0]["name"])
        for d in docs
    ]
    assert shown == [
        ("ClusterRoleBinding", None, "cluster-admin", "jot:role:admin"),
        ("RoleBinding", "dev", "edit", "jot:role:edit:dev"),
        ("RoleBinding", "dev", "view", "jot:role:view:dev"),
        ("RoleBinding", "staging", "view", "jot:role:view:staging"),
    ]
    assert {d["metadata"]["labels"]["jot.dev/destination"] for d in docs} == {"k8s"}
    prefixed = yaml.safe_load_all(cli("destinations", "rbac", "k8s", "--role-prefix", "x:"))
    assert next(iter(prefixed))["subjects"][0]["name"] == "x:admin"


def test_mistakes(cli: Any) -> None:
    cli("destinations", "add", "k8s")
    assert (
        cli("destinations", "rbac", "k8s", code=1) == "Error: no grants on 'k8s': nothing to bind\n"
    )
    out = cli("destinations", "rbac", "k8s", "--cluster-role", "admin", code=2)
    assert "'admin' is not ROLE=CLUSTERROLE" in out
    assert "no destination named 'nope'" in cli("destinations", "rbac", "nope", code=1)
