"""Secrets at rest: AES-256-GCM under the authority's root key, bound to their row.

The associated data names the table, the column and the row, so a ciphertext copied into
another row (or column) does not decrypt.
"""

from __future__ import annotations

from jot.authority.rootkey import RootKey, load_root_key
from jot.authority.state import Authority

__all__ = [
    "context",
    "device_where",
    "login_where",
    "open_secret",
    "provider_where",
    "root_key",
    "seal",
    "session_where",
]


def root_key(authority: Authority) -> RootKey:
    """The root key, cached on the authority object after the first use."""
    cached: RootKey | None = getattr(authority, "_oidc_root_key", None)
    if cached is None:
        cached = load_root_key(authority.settings)
        object.__setattr__(authority, "_oidc_root_key", cached)
    return cached


def seal(authority: Authority, value: str, *, where: str) -> bytes:
    return root_key(authority).encrypt(value.encode(), context=context(where))


def open_secret(authority: Authority, blob: bytes, *, where: str) -> str:
    return root_key(authority).decrypt(blob, context=context(where)).decode()


def context(where: str) -> bytes:
    """The associated data of a value sealed for ``where``."""
    return f"oidc:{where}".encode()


# Where each sealed column's values are bound: the row's key, named.


def provider_where(provider_id: str) -> str:
    """An identity provider's client secret."""
    return f"provider:{provider_id}"


def session_where(access_key_id: str) -> str:
    """The provider's refresh token behind one access key."""
    return f"session:{access_key_id}"


def login_where(state_hash: str) -> str:
    """The access key a CLI login hands over."""
    return f"login:{state_hash}"


def device_where(device_id: str) -> str:
    """The access key a device login hands over."""
    return f"device:{device_id}"
