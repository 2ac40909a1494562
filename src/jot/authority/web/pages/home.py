""" "My access": who the signed-in person is, where they can get tokens, with which roles and
from which grant, and a token on request (through the token endpoint's own handler)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from pydantic import ValidationError
from starlette.responses import Response

from jot.api import TokenRequest
from jot.api.explain import AccessList
from jot.api.keys import AccessKeyCreate
from jot.api.kubeconfig import entries, merge
from jot.api.session import LoginRequest, PasswordChange
from jot.authority import tokens
from jot.authority.access import Need
from jot.authority.context import run_as
from jot.authority.errors import APIError, BadRequest, Forbidden, Unauthorized
from jot.authority.handlers import audit, clusters, explain, keys, session
from jot.authority.web.pages.admin_kit import attempt
from jot.authority.web.visit import Visit, invalid

__all__ = ["change_password", "create_key", "get_token", "home", "kubeconfig", "revoke_key"]

#: One's own recent events shown per page.
EVENTS = 10

#: The lifetimes the key form offers (those within ``access_key_lifetime``).
LIFETIMES = [(86400, "1 day"), (7 * 86400, "7 days"), (30 * 86400, "30 days")]


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
    cap = visit.authority.settings.access_key_lifetime
    return visit.page(
        "home.html",
        status,
        lifetimes=[(t, label) for t, label in LIFETIMES if t <= cap] or [(cap, f"{cap} s")],
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


def create_key(visit: Visit) -> Response:
    """A key of one's own that outlives this browser session, shown once.

    A key made with the session's own key would be derived from it and end with the session
    (:mod:`jot.authority.lineage`). So the person proves who they are again, and the key is
    made the way the CLI makes one: with the password, it is a login's key (the login's
    limits, lockout and audit; its own line; ``ttl`` within ``access_key_lifetime``); with an
    access key of theirs, it is derived from that key and never outlives it. Either way the
    form's expiry is at most ``access_key_lifetime``: the console makes no key that never
    expires.
    """
    form, me = visit.form, visit.me
    if me is None:
        raise Unauthorized()
    password, pasted = form.get("password", ""), form.get("access_key", "").strip()
    try:
        ttl = _ttl(visit, form.get("ttl", ""))
        label = form.get("name", "").strip() or "console"
        if password and pasted:
            raise BadRequest("give your password or an access key, not both")
        if password:
            body = LoginRequest.model_validate(
                {"name": me.name, "password": password, "key_name": label, "ttl": ttl}
            )
            login = _confirmed(visit, None, session.login, body)
            made, expires = login.access_key, login.expires
        elif pasted:
            _own(visit, pasted, me.id)
            request = AccessKeyCreate(identity=me.name, name=label, ttl=ttl)
            derived = _confirmed(visit, pasted, keys.create_access_key, request)
            made, expires = derived.access_key, derived.key.expires
        else:
            raise BadRequest("confirm with your password or one of your access keys")
    except ValidationError as exc:
        return _page(visit, 400, message=invalid(exc))
    except APIError as exc:
        return _page(visit, exc.status, message=exc.message)
    return _page(visit, 201, new_key=made, new_key_name=label, new_key_expires=expires)


def _ttl(visit: Visit, text: str) -> int:
    cap = visit.authority.settings.access_key_lifetime
    if not text.isdigit() or len(text) > 12 or int(text) < 60:
        raise BadRequest("choose when the key expires")
    if int(text) > cap:
        raise BadRequest(f"expiry over the cap: keys made here live at most {cap // 86400} days")
    return int(text)


def _own(visit: Visit, pasted: str, me: str) -> None:
    """Refuse a key that is not a live key of the signed-in identity."""
    try:
        who = run_as(visit.request, pasted, Need.SELF, session.whoami)
    except Unauthorized:
        raise BadRequest("that access key is not valid (revoked, expired or mistyped)") from None
    if who.id != me:
        raise Forbidden("that access key is not yours")


def _confirmed(visit: Visit, bearer: str | None, handler: Any, body: Any) -> Any:
    """``handler`` as ``bearer`` (``None``: nobody, a login): its refusal is the confirming
    credential's, never this session's (a 401 here must not end the session)."""
    try:
        return run_as(visit.request, bearer, Need.PUBLIC if bearer is None else Need.SELF,
                      handler, body)  # fmt: skip
    except Unauthorized as exc:
        raise Forbidden(exc.message) from None


def revoke_key(visit: Visit) -> Response:
    """Revoke one of one's own access keys (and every key made from it)."""
    key_id = visit.form.get("id", "")[:64]

    def act() -> str:
        visit.call(Need.SELF, keys.revoke_access_key, key_id)
        return f"revoked {key_id}"

    return attempt(visit, "/", act, _again(visit))


def change_password(visit: Visit) -> Response:
    """The API's own password change: the current password, wrong guesses limited."""

    def act() -> str:
        body = PasswordChange.model_validate(
            {
                "current": visit.form.get("current", ""),
                "new": visit.form.get("new", ""),
                "revoke_other_keys": visit.form.get("revoke_other_keys") == "yes",
            }
        )
        visit.call(Need.SELF, session.change_password, body)
        return "your password was changed"

    return attempt(visit, "/", act, _again(visit))


def _again(visit: Visit) -> Callable[[int, str], Response]:
    """My access again, with why a form was refused."""
    return lambda status, why: _page(visit, status, message=why)
