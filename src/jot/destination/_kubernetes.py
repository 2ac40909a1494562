"""Who a caller is to Kubernetes: one answer for the proxy (``Impersonate-*`` headers) and the
TokenReview webhook (``status.user``)."""

from __future__ import annotations

from dataclasses import dataclass

from jot.api.identities import RESERVED_PREFIX, is_reserved_name
from jot.api.roles import namespace_of, role_group
from jot.destination._core import RESERVED_NAME
from jot.destination.errors import ForbiddenError
from jot.destination.identity import Identity

__all__ = ["KubernetesUser", "kubernetes_user", "namespaced_groups"]


@dataclass(frozen=True, slots=True)
class KubernetesUser:
    username: str
    uid: str
    groups: tuple[str, ...]


def kubernetes_user(
    identity: Identity, group_prefix: str = "", role_prefix: str | None = None
) -> KubernetesUser:
    """The user, uid and groups Kubernetes gets: the identity's groups with ``group_prefix``,
    then the roles granted here with ``role_prefix`` (None: no role groups).

    :raises ForbiddenError: the user name or uid is one Kubernetes reserves (``system:…``).
        The authority refuses such names; this holds even for a token from elsewhere, or an
        identity named before that rule.
    """
    for value in (identity.name, identity.subject):
        if is_reserved_name(value):
            raise ForbiddenError(
                f"Kubernetes reserves names starting with {RESERVED_PREFIX!r}", error=RESERVED_NAME
            )
    groups = tuple(group_prefix + group for group in identity.groups)
    if role_prefix is not None:
        groups += tuple(role_group(role_prefix, role) for role in sorted(identity.roles))
        groups += namespaced_groups(identity, role_prefix)
    return KubernetesUser(identity.name, identity.subject, groups)


def namespaced_groups(identity: Identity, role_prefix: str) -> tuple[str, ...]:
    """``<prefix><role>:<namespace>`` for each role granted on ``<destination>.<namespace>``,
    sorted: groups that a RoleBinding in that namespace (and only there) binds. A role held on
    the whole destination is not repeated per namespace; grants deeper than a namespace
    (``k8s.dev.x``) have no Kubernetes meaning and give nothing here."""
    found: list[str] = []
    for resource, roles in identity.scoped_roles.items():
        namespace = namespace_of(resource)
        if namespace is not None:
            found += (role_group(role_prefix, role, namespace) for role in roles)
    return tuple(sorted(found))
