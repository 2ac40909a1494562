"""Destinations: the audiences that tokens are issued for."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from jot.api._base import DestinationName, Request, Response
from jot.api.claims import DEFAULT_LIFETIME, MAX_LIFETIME, MIN_LIFETIME
from jot.api.kubeconfig import ClusterServer
from jot.api.openid import OidcClient, OidcClientSpec

__all__ = [
    "DEFAULT_LIFETIME",
    "Destination",
    "DestinationCreate",
    "DestinationList",
    "DestinationUpdate",
    "EncryptionKey",
]

Lifetime = Annotated[
    int, Field(ge=MIN_LIFETIME, le=MAX_LIFETIME, description="token lifetime in seconds")
]
Kind = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9-]*$")]
#: PEM certificates: the CA a Kubernetes destination's cluster server is signed by.
ClusterCA = Annotated[str, Field(min_length=1, max_length=65536)]
#: ``all``: every group of the identity; ``grants``: only groups its grants here mention.
Narrowing = Literal["all", "grants"]


class Destination(Response):
    id: str
    name: str
    kind: str
    lifetime: int
    group_narrowing: Narrowing
    created: datetime
    updated: datetime
    #: Set when the destination is an OpenID Connect client of the authority.
    oidc: OidcClient | None = None
    #: The public JWK its tokens are sealed to (signed, then encrypted); None: signed only.
    encryption_key: dict[str, Any] | None = None
    #: A Kubernetes destination's API server (or jot proxy) address, for kubeconfigs.
    cluster_server: str | None = None
    #: The PEM of the CA that signed ``cluster_server``'s certificate (None: a public one).
    cluster_ca: str | None = None


class DestinationList(Response):
    items: list[Destination]


class DestinationCreate(Request):
    name: DestinationName
    kind: Kind = "http"
    lifetime: Lifetime = DEFAULT_LIFETIME
    group_narrowing: Narrowing = "all"
    oidc: OidcClientSpec | None = None
    #: A public JWK: its tokens are then sealed to it.
    encryption_key: dict[str, Any] | None = None
    #: Kubernetes destinations: the address kubectl talks to, and the CA that signed it.
    cluster_server: ClusterServer | None = None
    cluster_ca: ClusterCA | None = None


class DestinationUpdate(Request):
    kind: Kind | None = None
    lifetime: Lifetime | None = None
    group_narrowing: Narrowing | None = None
    #: Replaces the OIDC registration (the secret stays unless ``new_client_secret``).
    oidc: OidcClientSpec | None = None
    #: Make a new client secret (shown once); the old one stops working at once.
    new_client_secret: bool = False
    #: Remove the OIDC registration: its codes and refresh handles stop working.
    remove_oidc: bool = False
    #: A new cluster address (and CA) for a Kubernetes destination.
    cluster_server: ClusterServer | None = None
    cluster_ca: ClusterCA | None = None
    #: Forget the cluster address and CA.
    remove_cluster: bool = False


class EncryptionKey(Request):
    """``PUT /api/destinations/{name}/encryption-key``: the public JWK (RSA, EC or X25519/X448)
    that the destination's tokens are sealed to from now on."""

    key: dict[str, Any]
