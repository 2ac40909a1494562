"""Who is calling the token endpoint: client_secret_basic, client_secret_post, private_key_jwt
(OIDC Core §9), or a public client naming itself (it then proves nothing but PKCE).

Exactly one method per request (RFC 6749 §2.3: a client must not use more than one), and the
method must be the one registered: a confidential client cannot act as a public one.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import datetime, timedelta
from urllib.parse import unquote_plus

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jot.authority.credentials import hash_secret
from jot.authority.openid import clients, verify
from jot.authority.openid.codes import digest
from jot.authority.openid.errors import OAuthError
from jot.authority.openid.models import SeenAssertion

__all__ = ["ASSERTION_TYPE", "MAX_ASSERTION_LIFE", "authenticate"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: An assertion may not claim to live longer than this (its jti is remembered that long).
MAX_ASSERTION_LIFE = timedelta(minutes=5)
_SECRET_METHODS = ("client_secret_basic", "client_secret_post")


def _refused(reason: str, description: str = "client authentication failed") -> OAuthError:
    # RFC 6749 §5.2: 401 for invalid_client; the description never says which part was wrong.
    return OAuthError("invalid_client", description, reason=reason, status=401)


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _refused("bad_basic_header") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _refused("bad_basic_header")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate(
    session: Session,
    form: dict[str, str],
    authorization: str,
    audiences: tuple[str, ...],
    now: datetime,
) -> clients.Client:
    """The authenticated client of a token request; :class:`OAuthError` otherwise."""
    basic = _basic(authorization) if authorization else None
    used = [
        name
        for name, present in (
            ("client_secret_basic", basic is not None),
            ("client_secret_post", "client_secret" in form),
            ("private_key_jwt", "client_assertion" in form),
        )
        if present
    ]
    if len(used) > 1:
        raise OAuthError(
            "invalid_request", "use one client authentication method", reason="two_methods"
        )
    method = used[0] if used else "none"
    client_id = basic[0] if basic else form.get("client_id", "")
    if method == "private_key_jwt":
        # The assertion's iss names the client; its signature check below decides.
        client_id = client_id or verify.unverified_claim(form["client_assertion"], "iss") or ""
    if basic and form.get("client_id", client_id) != client_id:
        raise OAuthError("invalid_request", "client_id differs from the authenticated client")
    client = clients.find(session, client_id) if client_id else None
    if client is None:
        raise _refused("unknown_client")
    if method in _SECRET_METHODS and client.auth_method in _SECRET_METHODS:
        secret = basic[1] if basic else form["client_secret"]
        if client.secret_hash is None or not hmac.compare_digest(
            hash_secret(secret), client.secret_hash
        ):
            raise _refused("bad_secret")
        return client
    if method != client.auth_method:
        raise _refused("wrong_method", f"this client authenticates with {client.auth_method}")
    if method == "private_key_jwt":
        _check_assertion(session, client, form, audiences, now)
    return client


def _check_assertion(
    session: Session,
    client: clients.Client,
    form: dict[str, str],
    audiences: tuple[str, ...],
    now: datetime,
) -> None:
    """RFC 7523 §3 and OIDC Core §9: signed by a registered key, iss = sub = client_id, aud
    the token endpoint (or the issuer), short-lived, and its jti never seen before."""
    if form.get("client_assertion_type") != ASSERTION_TYPE or client.jwks is None:
        raise _refused("bad_assertion_type")
    try:
        claims = verify.assertion(
            form["client_assertion"], client.jwks, algorithms=clients.ASSERTION_ALGORITHMS,
            client_id=client.client_id, audiences=audiences, now=now.timestamp(),
        )  # fmt: skip
    except verify.VerifyError as exc:
        raise _refused(f"bad_assertion: {exc}") from None
    if claims["sub"] != client.client_id or not isinstance(claims["jti"], str):
        raise _refused("bad_assertion: sub")
    expires = datetime.fromtimestamp(float(claims["exp"]), now.tzinfo)
    if expires - now > MAX_ASSERTION_LIFE:
        raise _refused("bad_assertion: lives too long")
    _remember(session, client.client_id, claims["jti"], expires)


def _remember(session: Session, client_id: str, jti: str, expires: datetime) -> None:
    """Record the assertion's jti; a second use within its life is a replay. Rows of
    assertions that expired are swept on the way."""
    session.execute(
        delete(SeenAssertion).where(SeenAssertion.expires < expires - MAX_ASSERTION_LIFE)
    )
    try:
        with session.begin_nested():
            session.add(SeenAssertion(jti_hash=digest(f"{client_id}\0{jti}"), expires=expires))
    except IntegrityError:
        raise _refused("assertion_replayed") from None
