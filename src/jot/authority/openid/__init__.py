"""jot as an OpenID Connect provider: destinations registered as clients sign people in
with the authority's browser session (authorization code flow with PKCE)."""
