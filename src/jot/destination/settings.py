"""The destination's settings and their defaults, each stated once.

Standard library only: ``jot connector``'s options show these defaults, and ``jot --help``
loads that module without the destination's dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CACHE_SIZE",
    "DEFAULT_ALGORITHMS",
    "MAX_CLOCK_SKEW",
    "ROLE_PREFIX",
    "ConnectorSettings",
    "KubernetesNames",
]

#: Seconds of clock difference tolerated for ``exp``/``nbf``/``iat``.
MAX_CLOCK_SKEW = 60
#: Entries each destination cache may hold: verified tokens, and the decisions and identity
#: headers remembered per caller. One size for all, so that none of them thrashes first.
CACHE_SIZE = 10_000
#: The signature algorithms a verifier accepts unless told otherwise.
DEFAULT_ALGORITHMS = ("EdDSA", "ES256", "RS256", "PS256")
#: Roles granted at a Kubernetes destination reach the API server as groups with this prefix.
ROLE_PREFIX = "jot:role:"


@dataclass(frozen=True, slots=True)
class KubernetesNames:
    """How a caller's groups and roles are named to Kubernetes (proxy and webhook alike)."""

    #: Put before each of the token's groups.
    group_prefix: str = ""
    #: Put before each role granted here, which then becomes a group; None: no role groups.
    role_prefix: str | None = ROLE_PREFIX


@dataclass(frozen=True, slots=True)
class ConnectorSettings:
    """What every ``jot connector`` service (forward auth, proxy, webhook) is started with."""

    #: This destination's name: the audience its tokens must carry.
    audience: str
    #: The authority's URL (the tokens' ``iss``); None with a static JWKS and grants file.
    issuer: str | None = None
    #: The machine access key that reads the grants from the authority.
    access_key: str | None = None
    #: A static JWKS file instead of the authority's JWKS.
    jwks_file: Path | None = None
    #: A TOML/YAML grants file instead of the authority's grants.
    grants_file: Path | None = None
    leeway: float = MAX_CLOCK_SKEW
    #: 0 turns the caches off.
    cache_size: int = CACHE_SIZE
    #: Keep ``system:`` groups from tokens (dropped unless a grant names them).
    keep_system_groups: bool = False
    #: Refuse (403) a valid token that has no role here.
    require_grant: bool = True
    #: This destination's private keys (JWK or PEM files): tokens must be sealed to one.
    decryption_keys: tuple[Path, ...] = ()
    #: At start, publish the public half of the last decryption key to the authority.
    publish_key: bool = False
    #: With decryption keys: take signed-only tokens too (while the authority switches).
    accept_unsealed: bool = False
