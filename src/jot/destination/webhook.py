"""Kubernetes webhook token authentication: ``authentication.k8s.io/v1`` ``TokenReview``.

The API server (``--authentication-token-webhook-config-file``) POSTs a TokenReview with
``spec.token``; we answer with ``status.authenticated`` and, when true, ``status.user``
(``username`` = the token's ``name``, ``uid`` = ``sub``, ``groups`` = the token's groups with
the configured prefix, plus the roles granted here as ``role_prefix`` groups). The API server
then authorizes with its own RBAC. https://kubernetes.io/docs/reference/access-authn-authz/authentication/#webhook-token-authentication

A review in ``v1`` or ``v1beta1`` is answered in the same version; any other ``apiVersion``
gets a ``v1`` review that is not authenticated, with the reason. A user name or uid that
Kubernetes reserves (``system:…``) is never authenticated.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from starlette.types import Receive, Scope, Send

from jot.api.untrusted import UntrustedJSONError, loads
from jot.destination._core import MISSING_TOKEN, allowed, refuse
from jot.destination._kubernetes import kubernetes_user
from jot.destination.errors import ForbiddenError, UnavailableError
from jot.destination.settings import KubernetesNames
from jot.destination.verifier import AsyncVerifier
from jot.jose.errors import InvalidTokenError

__all__ = ["API_VERSION", "API_VERSIONS", "TokenReviewApp", "review"]

log = logging.getLogger("jot.destination")

API_VERSION = "authentication.k8s.io/v1"
#: The TokenReview versions answered (in the version asked).
API_VERSIONS = (API_VERSION, "authentication.k8s.io/v1beta1")
MAX_BODY = 64 * 1024
_NAMES = KubernetesNames()


async def review(
    verifier: AsyncVerifier,
    body: dict[str, Any],
    *,
    names: KubernetesNames = _NAMES,
    require_grant: bool = True,
) -> dict[str, Any]:
    """The TokenReview answer to a TokenReview request body (already parsed).

    :raises UnavailableError: the destination cannot decide now (answered 503).
    """
    version = body.get("apiVersion")
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    token = spec.get("token") if isinstance(spec, dict) else None
    audiences = spec.get("audiences") if isinstance(spec, dict) else None
    status: dict[str, Any] = {"authenticated": False}
    if version not in API_VERSIONS:
        version = API_VERSION
        status["error"] = f"unsupported apiVersion; this webhook answers {', '.join(API_VERSIONS)}"
    elif isinstance(audiences, list) and audiences and verifier.settings.audience not in audiences:
        status["error"] = "the token's audience is not among the requested audiences"
    elif not isinstance(token, str) or not token:
        status["error"] = _refused(verifier, InvalidTokenError("no token", error=MISSING_TOKEN))
    else:
        status = await _status(verifier, token, names, require_grant)
        if status["authenticated"] and isinstance(audiences, list) and audiences:
            status["audiences"] = [verifier.settings.audience]
    return {"apiVersion": version, "kind": "TokenReview", "status": status}


async def _status(
    verifier: AsyncVerifier, token: str, names: KubernetesNames, require_grant: bool
) -> dict[str, Any]:
    try:
        identity = allowed(await verifier.verify(token), require_grant, below=True)
        user = kubernetes_user(identity, names.group_prefix, names.role_prefix)
    except (InvalidTokenError, ForbiddenError) as exc:
        return {"authenticated": False, "error": _refused(verifier, exc)}
    who = {"username": user.username, "uid": user.uid, "groups": list(user.groups)}
    return {"authenticated": True, "user": who}


def _refused(verifier: AsyncVerifier, exc: Exception) -> str:
    """Log a refusal as every front end does; its public reason (the review's ``error``)."""
    refusal = refuse(exc, verifier.settings.audience)
    refusal.log(log, "webhook")
    return refusal.reason


class TokenReviewApp:
    """The webhook as an ASGI app: ``POST /`` (any path) with a TokenReview body."""

    def __init__(
        self,
        verifier: AsyncVerifier,
        *,
        names: KubernetesNames = _NAMES,
        require_grant: bool = True,
    ) -> None:
        self.verifier = verifier
        self.names = names
        self.require_grant = require_grant

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(self.verifier, receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == "/healthz":
            await _send(send, 200, {"status": "ok"})
            return
        if scope["method"] != "POST":
            await _send(send, 405, {"error": "POST a TokenReview"})
            return
        body = await _read(receive)
        try:
            parsed = loads(body, max_bytes=MAX_BODY) if body is not None else None
        except UntrustedJSONError:
            parsed = None
        if not isinstance(parsed, dict) or parsed.get("kind") != "TokenReview":
            await _send(send, 400, {"error": "expected a TokenReview object"})
            return
        try:
            answer = await review(
                self.verifier, parsed, names=self.names, require_grant=self.require_grant
            )
        except UnavailableError as exc:
            # Kubernetes treats a failed webhook call as "not authenticated" and retries later.
            refusal = refuse(exc, self.verifier.settings.audience)
            refusal.log(log, "webhook")
            await _send(send, refusal.status, {"error": refusal.reason}, refusal.headers)
            return
        await _send(send, 200, answer)


async def _read(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(
    send: Send, status: int, body: dict[str, Any], extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _lifespan(verifier: AsyncVerifier, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await verifier.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
