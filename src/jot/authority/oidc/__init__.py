"""Logging in to the authority through an upstream OpenID Connect provider.

The authority is a relying party: it runs the authorization-code flow (PKCE S256, ``state``,
``nonce``, exact redirect URI), verifies the ID token with :mod:`jot.jose`, creates the user on
first login, syncs the provider's groups, keeps the refresh token to revalidate the login, and
serves an RFC 8628 device flow for jot's own CLI. See ``docs/oidc.md``.
"""

__all__: list[str] = []
