"""The destination's decisions, without I/O: what a request's token is, whether it verifies,
and how a refusal is answered. Shared by the verifiers and by every front end (ASGI, WSGI,
forward auth, proxy, TokenReview webhook)."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, overload

from jot.api.claims import MAX_LEEWAY, MAX_TOKEN_BYTES, REQUIRED_CLAIMS, TOKEN_TYPE
from jot.destination.cache import CachedToken, Decision, VerificationCache
from jot.destination.errors import BadRequestError, ForbiddenError, UnavailableError
from jot.destination.identity import Identity
from jot.destination.jwks import key_name
from jot.destination.settings import DEFAULT_ALGORITHMS, MAX_CLOCK_SKEW
from jot.jose import Key, KeySet, jwe, jwk, jwt
from jot.jose.errors import ClaimError, InvalidTokenError, JotError, MalformedTokenError
from jot.jose.hazmat import decode_unverified

__all__ = [
    "MAX_TOKEN_BYTES",
    "MISSING_TOKEN",
    "NO_ROLE",
    "REFUSED",
    "RESERVED_NAME",
    "UNSEALED",
    "Refusal",
    "VerifierCore",
    "VerifierSettings",
    "allowed",
    "authorization",
    "bearer_token",
    "decryption_keys",
    "refuse",
    "request_token",
    "www_authenticate",
]

MAX_HEADER_CHARS = 2048
#: The error code of a request without a bearer token (answered without an ``error``).
MISSING_TOKEN = "missing_token"
#: The error code of a valid token that holds no role at this destination.
NO_ROLE = "no_role"
#: The error code of a signed-only token where this destination takes sealed tokens only.
UNSEALED = "unsealed_token"
#: The error code of a user name or uid that Kubernetes reserves (``system:…``).
RESERVED_NAME = "reserved_name"
#: Every error a front end answers with a refusal (see :func:`refuse`).
REFUSED = (BadRequestError, InvalidTokenError, ForbiddenError, UnavailableError)


# A second credential inside one value: a comma, an auth-scheme and a space (RFC 9110 §11.4).
# WSGI and CGI servers join repeated headers with commas; Digest's `, realm="…"` parameters
# are a name and "=", so they do not match.
_SECOND_CREDENTIAL = re.compile(r",\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+ +[^\s=]")


def authorization(values: Sequence[str]) -> str | None:
    """The request's one ``Authorization`` value, or None without one.

    Two values (two headers, or two credentials joined in one) are refused with
    :class:`BadRequestError`, in every front end alike: one component taking the first and
    another the last would disagree about who is calling.
    """
    if not values:
        return None
    if len(values) > 1 or ("," in values[0] and _SECOND_CREDENTIAL.search(values[0])):
        raise BadRequestError("more than one Authorization credential")
    return values[0]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (RFC 6750 §2.1), else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def www_authenticate(realm: str, error: str | None = None) -> str:
    """RFC 6750 §3: no ``error`` when the request had no credentials at all; §3.1:
    ``invalid_request`` for a malformed request, ``invalid_token`` for any bad token."""
    quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
    value = f'Bearer realm="{quoted}"'
    if not error:
        return value
    code = "invalid_request" if error == BadRequestError.error else "invalid_token"
    return f'{value}, error="{code}"'


@overload
def request_token(values: Sequence[str], *, optional: Literal[False] = False) -> str: ...
@overload
def request_token(values: Sequence[str], *, optional: bool) -> str | None: ...


def request_token(values: Sequence[str], *, optional: bool = False) -> str | None:
    """The bearer token of a request's ``Authorization`` values.

    :raises BadRequestError: two credentials (see :func:`authorization`).
    :raises InvalidTokenError: no bearer token (``missing_token``), unless ``optional``, when
        the answer is None.
    """
    token = bearer_token(authorization(values))
    if token is None and not optional:
        raise InvalidTokenError("no bearer token", error=MISSING_TOKEN)
    return token


def allowed(identity: Identity, require_grant: bool, *, below: bool = False) -> Identity:
    """``identity``, unless it holds no role here and a role is required (403). With
    ``below``, a role on a sub-resource counts too (Kubernetes: a namespace's role; RBAC
    then decides what it reaches)."""
    if below and identity.scoped_roles:
        return identity
    if require_grant and not identity.roles:
        raise ForbiddenError(f"{identity.subject} has no role here", error=NO_ROLE)
    return identity


@dataclass(frozen=True, slots=True)
class Refusal:
    """How every front end answers a request it refuses: the HTTP status and headers, the
    short public reason (the TokenReview's ``error``), and the line for the log."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    reason: str
    log_level: int
    log_line: str

    @property
    def phrase(self) -> bytes:
        """The plain-text body of an answer that has one: the status phrase, nothing more."""
        return HTTPStatus(self.status).phrase.encode()

    def log(self, logger: logging.Logger, where: str) -> None:
        logger.log(self.log_level, "jot %s: %s", where, self.log_line)


# The public reason of each refusal; any other token error is "invalid token" (RFC 6750 §3.1:
# the answer does not say what was wrong with a token; the log line does).
_REASONS = {
    MISSING_TOKEN: "no token",
    NO_ROLE: "no grant at this destination",
    RESERVED_NAME: "reserved user name",
    BadRequestError.error: "more than one credential",
    UnavailableError.error: "temporarily unavailable",
}


def refuse(exc: Exception, realm: str) -> Refusal:
    """The one answer to a refused request (one of :data:`REFUSED`), the same in every front
    end: 400 and 401 with a ``WWW-Authenticate`` challenge, 403, or 503 with ``Retry-After``."""
    error = str(getattr(exc, "error", "refused"))
    reason = _REASONS.get(error, "invalid token")
    line = f"refused ({error}): {exc}"
    if isinstance(exc, UnavailableError):
        return Refusal(503, ((b"retry-after", b"5"),), reason, logging.WARNING, f"503 {exc}")
    if isinstance(exc, ForbiddenError):
        return Refusal(403, (), reason, logging.INFO, line)
    if isinstance(exc, BadRequestError):
        challenge = www_authenticate(realm, exc.error).encode()
        return Refusal(400, ((b"www-authenticate", challenge),), reason, logging.INFO, line)
    # RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
    code = error if isinstance(exc, InvalidTokenError) and error != MISSING_TOKEN else None
    challenge = www_authenticate(realm, code).encode()
    return Refusal(401, ((b"www-authenticate", challenge),), reason, logging.INFO, line)


@dataclass(frozen=True, slots=True)
class VerifierSettings:
    """What a token must look like to be accepted here."""

    audience: str
    issuer: str | None = None
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    typ: str = TOKEN_TYPE
    leeway: float = MAX_CLOCK_SKEW
    keep_system_groups: bool = False
    #: This destination's private keys: tokens must be sealed to one of them (signed, then
    #: encrypted; see :func:`decryption_keys`). None: tokens are signed only.
    decrypt_with: KeySet | None = None
    #: With ``decrypt_with``: take signed-only tokens too (while the authority switches).
    accept_unsealed: bool = False

    def __post_init__(self) -> None:
        if not self.audience:
            raise ValueError("the destination needs a name (the required audience)")
        if not self.algorithms or "none" in self.algorithms:
            raise ValueError("algorithms must be a non-empty list without 'none'")
        if not 0 <= self.leeway <= MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")

    def resource(self, resource: str | None) -> str:
        """``resource`` checked to be this destination or one of its sub-resources."""
        if resource is None or resource == self.audience:
            return self.audience
        if resource.startswith(self.audience + ".") and all(resource.split(".")):
            return resource
        raise ValueError(f"resource {resource!r} is not part of destination {self.audience!r}")


class VerifierCore:
    """Cache lookup, signature and claim checks, and the making of an :class:`Identity`."""

    def __init__(self, settings: VerifierSettings, cache: VerificationCache | None) -> None:
        self.settings = settings
        self.cache = cache

    def lookup(
        self, token: str, now: float, keys: Collection[str] | None
    ) -> tuple[CachedToken | None, str | None]:
        """``(cached entry or None, kid)``; the kid is read only on a miss. ``keys``: the
        current key names (None: a key set that never changes)."""
        if len(token) > MAX_TOKEN_BYTES:
            raise MalformedTokenError("token too large")
        hit = self.cache.get(token, now, keys) if self.cache is not None else None
        if hit is not None:
            return hit, None
        return None, _kid(token)

    def unseal(self, token: str, kid: str | None) -> tuple[str, str | None]:
        """The signed jot inside a sealed token, and its signing key's kid; a signed-only
        token as it is (refused where sealed tokens are required). The caller then checks the
        inner token as any other, and caches the answer under the sealed token."""
        keys = self.settings.decrypt_with
        if keys is None:
            return token, kid
        if token.count(".") != 4:  # Not a compact JWE: signed only.
            if self.settings.accept_unsealed:
                return token, kid
            raise InvalidTokenError("the token is not sealed to this destination", error=UNSEALED)
        opened = jwe.decrypt_compact(token, keys, max_size=MAX_TOKEN_BYTES)
        cty = opened.header.get("cty")
        # RFC 7519 §5.2: a nested JWT says cty JWT; anything else is not a token from us.
        if not isinstance(cty, str) or cty.lower().removeprefix("application/") != "jwt":
            raise MalformedTokenError("the sealed token does not hold a JWT (cty is not JWT)")
        try:
            inner = opened.plaintext.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedTokenError("the sealed token does not hold a JWT") from None
        return inner, _kid(inner)

    def check(self, token: str, received: str, keys: KeySet, now: float) -> CachedToken:
        """Verify signature and claims; remember the token as ``received`` (a sealed token
        as it came, not the jot inside) until its ``exp``."""
        s = self.settings
        verified = jwt.decode_complete(
            token, keys, algorithms=s.algorithms, issuer=s.issuer, audience=s.audience,
            typ=s.typ, leeway=s.leeway, require=REQUIRED_CLAIMS, now=now,
        )  # fmt: skip
        claims = verified.claims  # Parsed for this call: the entry may keep it.
        _check_shape(claims)
        entry = CachedToken(claims, key_name(verified.key), float(claims["exp"]))
        if self.cache is not None:
            self.cache.put(received, entry, now)
        return entry

    def remembered(
        self, entry: CachedToken, resource: str, grants: object, now: float
    ) -> Identity | None:
        """The identity decided for this token before, if the grants (the very same index
        object; None: not known) and the resource are the same now, and no time-bound grant
        behind it has lapsed since."""
        decision = entry.decision
        if (
            decision is not None
            and grants is not None
            and decision.grants is grants
            and decision.resource == resource
            and (decision.until is None or now < decision.until)
        ):
            return decision.identity
        return None

    def remember(
        self,
        entry: CachedToken,
        resource: str,
        grants: object,
        identity: Identity,
        until: float | None = None,
    ) -> Identity:
        """Keep ``identity`` with a cached token, decided under ``grants`` (read before the
        roles were: a change meanwhile makes the next request decide again) until ``until``
        (when a time-bound grant behind it lapses)."""
        if grants is not None and self.cache is not None:
            entry.decision = Decision(grants, resource, identity, until)
        return identity

    def groups(self, claims: dict[str, Any], granted: Collection[str] = ()) -> tuple[str, ...]:
        """The token's groups without reserved ``system:`` ones, unless the operator keeps
        them all or a grant names that group explicitly (``granted``)."""
        groups: list[str] = claims.get("groups") or []
        if self.settings.keep_system_groups:
            return tuple(groups)
        # Reserved names (Kubernetes' system:masters, …) are never taken from a token on its
        # own say; see DESIGN.md, "What Infra got wrong".
        for group in groups:
            if group.startswith("system:"):
                return tuple(g for g in groups if not g.startswith("system:") or g in granted)
        return tuple(groups)  # The usual case: nothing to filter, no generator to run.

    @staticmethod
    def identity(
        claims: dict[str, Any],
        groups: Iterable[str],
        roles: frozenset[str],
        scoped_roles: Mapping[str, frozenset[str]] | None = None,
    ) -> Identity:
        return Identity(
            subject=claims["sub"],
            name=claims.get("name") or claims["sub"],
            groups=tuple(groups),
            roles=roles,
            token_id=claims["jti"],
            expires=Identity.expiry(claims["exp"]),
            claims=claims,
            scoped_roles=scoped_roles or {},
        )


def decryption_keys(keys: Key | KeySet) -> KeySet:
    """A destination's private decryption keys as a verifier uses them: each bound to its key
    management algorithm (a key without ``alg`` gets its type's usual one, as the authority
    seals with) and found by ``kid``.

    :raises ValueError: a key that is public only, or not an encryption key.
    """
    found = []
    for key in keys.keys if isinstance(keys, KeySet) else (keys,):
        if not key.is_private or key.kty == "oct":
            raise ValueError("a decryption key must be the private half of a public key pair")
        try:
            alg = jwe.default_algorithm(key)
            jwe.check_key(key, alg)
        except JotError as exc:
            raise ValueError(f"not a decryption key: {exc}") from None
        kid = key.kid or key.thumbprint()  # The authority names the key by it, too.
        found.append(
            key if (key.alg, key.kid) == (alg, kid) else jwk.import_key(key, alg=alg, kid=kid)
        )
    if not found:
        raise ValueError("no decryption key given")
    return KeySet(found)


# Encoded header → its kid. An authority signs every token with the same few headers, so
# this saves a base64 and JSON decode per uncached verification; bounded, never evicted one
# by one (a flood of new headers just clears it).
_kids: dict[str, str | None] = {}
_KIDS_SIZE = 256


def _kid(token: str) -> str | None:
    """The header's ``kid``, read only to decide whether the JWKS needs a refetch; the strict
    parse (canonical base64url, duplicate members, …) happens in ``jwt.decode_complete``."""
    head = token.partition(".")[0]
    try:
        return _kids[head]
    except KeyError:
        pass
    kid = _parse_kid(head)
    if len(_kids) >= _KIDS_SIZE:
        _kids.clear()
    _kids[head] = kid
    return kid


def _parse_kid(head: str) -> str | None:
    if len(head) > MAX_HEADER_CHARS:
        raise MalformedTokenError("header too large")
    # jot.jose's strict parser (bounded depth, canonical base64url); the kid only chooses
    # which key set to look in, the signature check decides.
    kid = decode_unverified(head + "..").header.get("kid")  # The header alone.
    return kid if isinstance(kid, str) else None


# The last second a datetime can hold (9999-12-31T23:59:59Z). jot.jose accepts any finite
# NumericDate; a later exp (signed by a broken issuer) is refused here, not a crash later.
_LAST_SECOND = 253_402_300_799


def _check_shape(claims: dict[str, Any]) -> None:
    if claims["exp"] > _LAST_SECOND:
        raise ClaimError("exp is beyond the year 9999", claim="exp")
    for claim in ("sub", "jti"):
        if not isinstance(claims[claim], str) or not claims[claim]:
            raise ClaimError(f"{claim} must be a non-empty string", claim=claim)
    if not isinstance(claims.get("name", ""), str):
        raise ClaimError("name must be a string", claim="name")
    groups = claims.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise ClaimError("groups must be a list of strings", claim="groups")
