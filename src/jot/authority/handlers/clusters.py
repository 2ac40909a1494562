"""The cluster a Kubernetes destination names: its address and CA, set by admins with the
destination, read by whoever the authority issues tokens for it (``GET /api/clusters/{name}``)
to make a kubeconfig (``jot kubeconfig``, "My access" in the web console)."""

from __future__ import annotations

import base64

from cryptography import x509
from sqlalchemy import select

from jot.api.kubeconfig import Cluster
from jot.authority import tokens
from jot.authority.context import Context
from jot.authority.errors import BadRequest, NotFound
from jot.authority.models import Destination

__all__ = ["KUBERNETES", "apply", "cluster"]

#: The destination kind whose tokens kubectl uses.
KUBERNETES = "kubernetes"


def apply(row: Destination, server: str | None, ca: str | None, *, remove: bool = False) -> None:
    """Set (or with ``remove``, forget) ``row``'s cluster address and CA.

    :raises BadRequest: on a destination of another kind, a CA without an address, or a CA
        that is not PEM certificates.
    """
    if remove:
        if server is not None or ca is not None:
            raise BadRequest("remove_cluster cannot be combined with cluster_server or cluster_ca")
        row.cluster_server = row.cluster_ca = None
        return
    if server is None and ca is None:
        return
    if row.kind != KUBERNETES:
        raise BadRequest(f"only a destination of kind {KUBERNETES!r} names a cluster server")
    if ca is not None:
        try:
            x509.load_pem_x509_certificates(ca.encode())
        except ValueError:
            raise BadRequest("cluster_ca: not PEM certificates") from None
        if server is None and row.cluster_server is None:
            raise BadRequest("cluster_ca needs cluster_server")
        row.cluster_ca = ca
    if server is not None:
        row.cluster_server = server


def cluster(ctx: Context, name: str) -> Cluster:
    """The cluster ``name`` names, for someone the authority issues tokens for it (the token
    endpoint's own decision: whoever may not have a token learns nothing of the cluster)."""
    tokens.decide(ctx.session, ctx.me(), ctx.groups, name, now=ctx.now.timestamp())
    row = ctx.session.scalars(select(Destination).where(Destination.name == name)).one()
    if row.kind != KUBERNETES or row.cluster_server is None:
        raise NotFound(f"{name!r} names no Kubernetes cluster server; ask an admin")
    ca = row.cluster_ca
    data = base64.b64encode(ca.encode()).decode() if ca is not None else None
    return Cluster(destination=row.name, server=row.cluster_server, certificate_authority_data=data)
