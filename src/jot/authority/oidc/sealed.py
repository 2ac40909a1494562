"""Secrets at rest: AES-256-GCM under the authority's root key, bound to their row.

The associated data names the table, the column and the row, so a ciphertext copied into
another row (or column) does not decrypt.
"""

from __future__ import annotations

from jot.authority.rootkey import RootKey, load_root_key
from jot.authority.state import Authority

__all__ = ["open_secret", "root_key", "seal"]


def root_key(authority: Authority) -> RootKey:
    """The root key, cached on the authority object after the first use."""
    cached: RootKey | None = getattr(authority, "_oidc_root_key", None)
    if cached is None:
        cached = load_root_key(authority.settings)
        object.__setattr__(authority, "_oidc_root_key", cached)
    return cached


def seal(authority: Authority, value: str, *, where: str) -> bytes:
    return root_key(authority).encrypt(value.encode(), context=f"oidc:{where}".encode())


def open_secret(authority: Authority, blob: bytes, *, where: str) -> str:
    return root_key(authority).decrypt(blob, context=f"oidc:{where}".encode()).decode()
