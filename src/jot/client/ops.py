"""Every call of the authority's API as a :class:`~jot.client.Call` value.

``client.call(ops.users_list())`` works the same on :class:`~jot.client.Client` and
:class:`~jot.client.AsyncClient`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from jot.api import Grant as GrantOut
from jot.api import GrantList, TokenRequest, TokenResponse
from jot.api.destinations import (
    Destination,
    DestinationCreate,
    DestinationList,
    DestinationUpdate,
)
from jot.api.explain import AccessList, Explanation
from jot.api.identities import (
    Group,
    GroupCreate,
    GroupList,
    Identity,
    IdentityCreate,
    IdentityList,
    IdentityUpdate,
    MemberChange,
)
from jot.api.keys import AccessKeyCreate, AccessKeyList, NewAccessKey, SigningKeyList
from jot.api.kubeconfig import Cluster
from jot.api.requests import AccessRequest, AccessRequestCreate, AccessRequestList, Answer
from jot.api.revocations import Revocation, RevocationCreate, RevocationList
from jot.api.session import (
    AuditList,
    GrantCreate,
    LoginRequest,
    LoginResponse,
    PasswordChange,
    WhoAmI,
)
from jot.client._core import Call, body_of

__all__ = [
    "access_key_create",
    "access_key_revoke",
    "access_keys_list",
    "access_request_answer",
    "access_request_cancel",
    "access_request_create",
    "access_request_get",
    "access_requests_list",
    "audit",
    "cluster",
    "destination_create",
    "destination_delete",
    "destination_encryption_key",
    "destination_get",
    "destination_update",
    "destinations_list",
    "explain",
    "grant_create",
    "grant_delete",
    "grants_list",
    "grants_watch",
    "group_add_member",
    "group_create",
    "group_delete",
    "group_get",
    "group_remove_member",
    "groups_list",
    "jwks",
    "login",
    "logout",
    "my_access",
    "revocation_create",
    "revocation_delete",
    "revocations_list",
    "signing_keys_list",
    "signing_keys_rotate",
    "token",
    "user_create",
    "user_delete",
    "user_get",
    "user_update",
    "users_list",
    "whoami",
]

M = TypeVar("M", bound=BaseModel)


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: model.model_validate_json(response.content)


def _none(_response: httpx.Response) -> None:
    return None


def _json(response: httpx.Response) -> Any:
    return response.json()


def _q(name: str) -> str:
    return quote(name, safe="")


def login(name: str, password: str) -> Call[LoginResponse]:
    body = body_of(LoginRequest, name=name, password=password)
    return Call("POST", "/api/login", _model(LoginResponse), json=body)


def logout() -> Call[None]:
    return Call("POST", "/api/logout", _none)


def change_password(current: str, new: str, *, revoke_other_keys: bool = False) -> Call[None]:
    # revoke_other_keys is sent only when asked for: an older server knows no such field.
    body = body_of(
        PasswordChange, current=current, new=new, revoke_other_keys=revoke_other_keys or None
    )
    return Call("POST", "/api/password", _none, json=body)


def whoami() -> Call[WhoAmI]:
    return Call("GET", "/api/whoami", _model(WhoAmI))


def token(destination: str) -> Call[TokenResponse]:
    body = body_of(TokenRequest, destination=destination)
    return Call("POST", "/api/tokens", _model(TokenResponse), json=body)


def jwks() -> Call[Any]:
    return Call("GET", "/.well-known/jwks.json", _json)


def users_list() -> Call[IdentityList]:
    return Call("GET", "/api/users", _model(IdentityList))


def user_get(name: str) -> Call[Identity]:
    return Call("GET", f"/api/users/{_q(name)}", _model(Identity))


def user_create(name: str, *, kind: str = "user", password: str | None = None) -> Call[Identity]:
    body = body_of(IdentityCreate, name=name, kind=kind, password=password)
    return Call("POST", "/api/users", _model(Identity), json=body)


def user_update(
    name: str,
    *,
    password: str | None = None,
    new_name: str | None = None,
    revoke_access_keys: bool = False,
) -> Call[Identity]:
    """A new password, a new name (grants and keys stay with the identity), or both;
    ``revoke_access_keys`` revokes every access key of the identity."""
    body = body_of(
        IdentityUpdate,
        revoke_access_keys=revoke_access_keys or None,
        password=password,
        name=new_name,
    )
    return Call("PATCH", f"/api/users/{_q(name)}", _model(Identity), json=body)


def user_delete(name: str) -> Call[None]:
    return Call("DELETE", f"/api/users/{_q(name)}", _none)


def groups_list() -> Call[GroupList]:
    return Call("GET", "/api/groups", _model(GroupList))


def group_create(name: str) -> Call[Group]:
    return Call("POST", "/api/groups", _model(Group), json=body_of(GroupCreate, name=name))


def group_get(name: str) -> Call[Group]:
    return Call("GET", f"/api/groups/{_q(name)}", _model(Group))


def group_delete(name: str) -> Call[None]:
    return Call("DELETE", f"/api/groups/{_q(name)}", _none)


def group_add_member(group: str, member: str) -> Call[Group]:
    body = body_of(MemberChange, name=member)
    return Call("POST", f"/api/groups/{_q(group)}/members", _model(Group), json=body)


def group_remove_member(group: str, member: str) -> Call[None]:
    return Call("DELETE", f"/api/groups/{_q(group)}/members/{_q(member)}", _none)


def destinations_list() -> Call[DestinationList]:
    return Call("GET", "/api/destinations", _model(DestinationList))


def destination_get(name: str) -> Call[Destination]:
    return Call("GET", f"/api/destinations/{_q(name)}", _model(Destination))


def destination_create(
    name: str,
    *,
    kind: str = "http",
    lifetime: int | None = None,
    group_narrowing: str | None = None,
    oidc: dict[str, Any] | None = None,
    encryption_key: dict[str, Any] | None = None,
    cluster_server: str | None = None,
    cluster_ca: str | None = None,
) -> Call[Destination]:
    """``oidc`` registers the destination as an OpenID client (see ``OidcClientSpec``);
    ``encryption_key`` (a public JWK) seals its tokens; ``cluster_server`` (and the PEM
    ``cluster_ca``) is where a Kubernetes destination's kubeconfigs point."""
    body = body_of(
        DestinationCreate,
        name=name,
        kind=kind,
        lifetime=lifetime,
        group_narrowing=group_narrowing,
        oidc=oidc,
        encryption_key=encryption_key,
        cluster_server=cluster_server,
        cluster_ca=cluster_ca,
    )
    return Call("POST", "/api/destinations", _model(Destination), json=body)


def destination_update(name: str, **changes: Any) -> Call[Destination]:
    body = body_of(DestinationUpdate, **changes)
    return Call("PATCH", f"/api/destinations/{_q(name)}", _model(Destination), json=body)


def destination_encryption_key(name: str, key: dict[str, Any] | None) -> Call[Any]:
    """Seal ``name``'s tokens to the public JWK ``key`` from now on (``None``: stop)."""
    path = f"/api/destinations/{_q(name)}/encryption-key"
    if key is None:
        return Call("DELETE", path, _none)
    return Call("PUT", path, _json, json={"key": key})


def cluster(destination: str) -> Call[Cluster]:
    """The Kubernetes cluster that ``destination`` names, for a kubeconfig."""
    return Call("GET", f"/api/clusters/{_q(destination)}", _model(Cluster))


def destination_delete(name: str) -> Call[None]:
    return Call("DELETE", f"/api/destinations/{_q(name)}", _none)


def explain(subject: str, resource: str) -> Call[Explanation]:
    """Would ``resource``'s destination accept ``subject`` there, with which roles, and why."""
    return Call(
        "GET",
        "/api/explain",
        _model(Explanation),
        params={"subject": subject, "resource": resource},
    )


def my_access() -> Call[AccessList]:
    """The caller's destinations, roles there and the grants they come from."""
    return Call("GET", "/api/my-access", _model(AccessList))


def grants_list(*, destination: str | None = None, subject: str | None = None) -> Call[GrantList]:
    return Call(
        "GET",
        "/api/grants",
        _model(GrantList),
        params={"destination": destination, "subject": subject},
    )


def _watch(response: httpx.Response) -> tuple[GrantList | None, str | None]:
    etag = response.headers.get("etag")
    if response.status_code == 304:
        return None, etag
    return GrantList.model_validate_json(response.content), etag


def grants_watch(
    destination: str, *, etag: str | None = None, wait: float = 0
) -> Call[tuple[GrantList | None, str | None]]:
    """Long-poll: answers when the grants differ from ``etag`` or after ``wait`` seconds."""
    return Call(
        "GET",
        "/api/grants",
        _watch,
        params={"destination": destination, "wait": wait or None},
        headers={"If-None-Match": etag} if etag else {},
        ok=(200, 304),
        timeout=wait + 10 if wait else None,
    )


def grant_create(
    subject: str,
    role: str,
    resource: str,
    *,
    duration: int | None = None,
    expires: datetime | None = None,
) -> Call[GrantOut]:
    """A grant; time-bound with ``duration`` (seconds from now) or ``expires``."""
    body = body_of(
        GrantCreate, subject=subject, role=role, resource=resource, duration=duration,
        expires=expires,
    )  # fmt: skip
    return Call("POST", "/api/grants", _model(GrantOut), json=body)


def grant_delete(grant_id: str) -> Call[None]:
    return Call("DELETE", f"/api/grants/{_q(grant_id)}", _none)


def access_requests_list(
    *, state: str | None = None, mine: bool = False
) -> Call[AccessRequestList]:
    params = {"state": state, "mine": mine or None}
    return Call("GET", "/api/access-requests", _model(AccessRequestList), params=params)


def access_request_create(
    role: str, resource: str, *, duration: int, reason: str
) -> Call[AccessRequest]:
    body = body_of(
        AccessRequestCreate, role=role, resource=resource, duration=duration, reason=reason
    )
    return Call("POST", "/api/access-requests", _model(AccessRequest), json=body)


def access_request_get(request_id: str) -> Call[AccessRequest]:
    return Call("GET", f"/api/access-requests/{_q(request_id)}", _model(AccessRequest))


def access_request_answer(
    request_id: str, *, approve: bool, note: str | None = None
) -> Call[AccessRequest]:
    """Approve or deny; ``note`` is shown to the requester."""
    path = f"/api/access-requests/{_q(request_id)}/{'approve' if approve else 'deny'}"
    body = body_of(Answer, note=note)
    return Call("POST", path, _model(AccessRequest), json=body)


def access_request_cancel(request_id: str) -> Call[AccessRequest]:
    return Call("POST", f"/api/access-requests/{_q(request_id)}/cancel", _model(AccessRequest))


def revocation_create(
    *, subject: str | None = None, token: str | None = None, reason: str | None = None
) -> Call[Revocation]:
    """Revoke ``subject`` (``user:NAME``) or ``token`` (a jti) at every destination."""
    body = body_of(RevocationCreate, subject=subject, token=token, reason=reason)
    return Call("POST", "/api/revocations", _model(Revocation), json=body)


def revocations_list() -> Call[RevocationList]:
    return Call("GET", "/api/revocations", _model(RevocationList))


def revocation_delete(revocation_id: str) -> Call[None]:
    return Call("DELETE", f"/api/revocations/{_q(revocation_id)}", _none)


def access_keys_list(*, identity: str | None = None) -> Call[AccessKeyList]:
    return Call("GET", "/api/access-keys", _model(AccessKeyList), params={"identity": identity})


def access_key_create(
    identity: str,
    *,
    name: str = "key",
    ttl: int | None = None,
    inactivity_timeout: int | None = None,
) -> Call[NewAccessKey]:
    body = body_of(
        AccessKeyCreate,
        identity=identity,
        name=name,
        ttl=ttl,
        inactivity_timeout=inactivity_timeout,
    )
    return Call("POST", "/api/access-keys", _model(NewAccessKey), json=body)


def access_key_revoke(key_id: str) -> Call[None]:
    return Call("DELETE", f"/api/access-keys/{_q(key_id)}", _none)


def signing_keys_list() -> Call[SigningKeyList]:
    return Call("GET", "/api/signing-keys", _model(SigningKeyList))


def signing_keys_rotate() -> Call[SigningKeyList]:
    return Call("POST", "/api/signing-keys/rotate", _model(SigningKeyList))


def audit(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str | None = None,
    actor: str | None = None,
    limit: int = 100,
) -> Call[AuditList]:
    params = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "kind": kind,
        "actor": actor,
        "limit": limit,
    }
    return Call("GET", "/api/audit", _model(AuditList), params=params)
