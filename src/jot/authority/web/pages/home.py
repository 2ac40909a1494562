""" "My access": who the signed-in person is, where they can get tokens, with which roles and
from which grant, and a token on request (through the token endpoint's own handler)."""

from __future__ import annotations

from urllib.parse import urlencode

import yaml
from pydantic import ValidationError
from starlette.responses import Response

from jot.api import TokenRequest
from jot.api.explain import AccessList
from jot.api.kubeconfig import entries, merge
from jot.api.session import PasswordChange
from jot.authority import tokens
from jot.authority.access import Need
from jot.authority.errors import APIError
from jot.authority.handlers import audit, clusters, explain, keys, session
from jot.authority.web.visit import Visit, invalid

__all__ = ["change_password", "get_token", "home", "kubeconfig", "revoke_key"]

#: One's own recent events shown per page.
EVENTS = 10


def _page(visit: Visit, status: int = 200, **extra: object) -> Response:
    mine: AccessList = visit.call(Need.SELF, explain.my_access)
    me = visit.me.name if visit.me is not None else None
    own = visit.call(Need.SELF, keys.list_access_keys, me, after=None, limit=None).items
    live = [k for k in own if k.revoked is None]
    session_key = visit.me.access_key if visit.me is not None else ""
    query = visit.request.query_params
    done = query.get("done", "")[:200]
    before = query.get("before", "")
    events = visit.call(
        Need.SELF,
        audit.my_audit,
        limit=EVENTS,
        before=int(before) if before.isdigit() and len(before) < 19 else None,
    ).items
    return visit.page(
        "home.html",
        status,
        access=mine.items,
        keys=live,
        session_key=session_key,
        done=done,
        events=events,
        older=events[-1].id if len(events) == EVENTS else None,
        **extra,
    )


def home(visit: Visit) -> Response:
    return _page(visit)


def get_token(visit: Visit) -> Response:
    destination = visit.form.get("destination", "")
    try:
        body = TokenRequest(destination=destination[:253] or "-")
        issued = visit.call(Need.SELF, tokens.issue_token, body)
    except APIError as exc:
        return _page(visit, exc.status, message=exc.message)
    return _page(visit, 201, token=issued.token, token_for=destination, expires=issued.expires)


def kubeconfig(visit: Visit) -> Response:
    """A kubeconfig for one Kubernetes destination: its cluster, and ``jot token`` as kubectl's
    exec credential plugin (the entries ``jot kubeconfig`` writes; ``jot`` from ``PATH``)."""
    destination = visit.request.query_params.get("destination", "")[:63]
    try:
        named = visit.call(Need.SELF, clusters.cluster, destination)
    except APIError as exc:
        if exc.status == 401:
            raise
        return _page(visit, exc.status, message=exc.message)
    issuer = visit.authority.settings.issuer_url
    config = merge({}, entries(named.destination, named.entry(), issuer, "jot"))
    config["current-context"] = f"jot-{named.destination}"
    response = Response(
        yaml.safe_dump(config, sort_keys=False),
        media_type="application/yaml",
        headers={
            "Content-Disposition": f'attachment; filename="jot-{named.destination}.kubeconfig"'
        },
    )
    return visit.finish(response)


def revoke_key(visit: Visit) -> Response:
    """Revoke one of one's own access keys (and every key made from it)."""
    key_id = visit.form.get("id", "")[:64]
    try:
        visit.call(Need.SELF, keys.revoke_access_key, key_id)
    except APIError as exc:
        if exc.status == 401:
            raise
        return _page(visit, exc.status, message=exc.message)
    return visit.redirect(f"/?{urlencode({'done': f'revoked {key_id}'})}")


def change_password(visit: Visit) -> Response:
    """The API's own password change: the current password, wrong guesses limited."""
    try:
        body = PasswordChange.model_validate(
            {
                "current": visit.form.get("current", ""),
                "new": visit.form.get("new", ""),
                "revoke_other_keys": visit.form.get("revoke_other_keys") == "yes",
            }
        )
        visit.call(Need.SELF, session.change_password, body)
    except ValidationError as exc:
        return _page(visit, 400, message=invalid(exc))
    except APIError as exc:
        if exc.status == 401:
            raise
        return _page(visit, exc.status, message=exc.message)
    return visit.redirect(f"/?{urlencode({'done': 'your password was changed'})}")
