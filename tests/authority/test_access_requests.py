"""Access requests (issue 19 item 3) through the HTTP API, on SQLite and PostgreSQL: ask,
answer (approver or admin, never oneself), expiry, the time-bound grant an approval makes,
and the audit trail of every step."""

from __future__ import annotations

import httpx
import pytest

from jot.authority import lapse
from jot.authority.app import Started
from jot.authority.clock import FakeClock
from jot.authority.settings import Settings

from .conftest import bearer

pytestmark = pytest.mark.anyio

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


async def _ok(admin: httpx.AsyncClient, method: str, path: str, **kwargs) -> httpx.Response:
    response = await admin.request(method, path, **kwargs)
    assert response.is_success, (method, path, response.text)
    return response


async def _key(admin: httpx.AsyncClient, name: str) -> dict[str, str]:
    made = await _ok(admin, "POST", "/api/access-keys", json={"identity": name})
    return bearer(made.json()["access_key"])


async def _world(admin: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """alice asks; bob approves for web (approver on jot.web); carol approves web.reports
    only. Returns each one's Authorization header."""
    for name in (ALICE, BOB, CAROL):
        await _ok(admin, "POST", "/api/users", json={"name": name})
    for name in ("web", "db"):
        await _ok(admin, "POST", "/api/destinations", json={"name": name})
    for subject, resource in ((f"user:{BOB}", "jot.web"), (f"user:{CAROL}", "jot.web.reports")):
        grant = {"subject": subject, "role": "approver", "resource": resource}
        await _ok(admin, "POST", "/api/grants", json=grant)
    return {name: await _key(admin, name) for name in (ALICE, BOB, CAROL)}


@pytest.fixture
def settings(settings_factory) -> Settings:
    # Requests expire after an hour here, well before the admin's access key (a day).
    return settings_factory(access_request_ttl=3600)


def _ask(role: str = "viewer", resource: str = "web", duration: int = 7200) -> dict:
    return {"role": role, "resource": resource, "duration": duration, "reason": "incident 42"}


async def _token(client: httpx.AsyncClient, who: dict[str, str], destination: str) -> int:
    response = await client.post("/api/tokens", json={"destination": destination}, headers=who)
    return response.status_code


async def _kinds(admin: httpx.AsyncClient, prefix: str) -> list[tuple[str, dict]]:
    events = (await _ok(admin, "GET", "/api/audit", params={"kind": prefix})).json()["items"]
    return [(e["kind"], e["detail"]) for e in reversed(events)]


async def test_ask_approve_use_and_lapse(
    admin: httpx.AsyncClient, started: Started, clock: FakeClock
) -> None:
    who = await _world(admin)
    assert await _token(admin, who[ALICE], "web") == 403
    made = await admin.post("/api/access-requests", json=_ask(), headers=who[ALICE])
    assert made.status_code == 201, made.text
    request = made.json()
    assert (request["requester"], request["state"], request["duration"]) == (
        ALICE, "pending", 7200,
    )  # fmt: skip

    # The approver sees it waiting; the requester cannot answer it, even as an approver would.
    pending = await admin.get("/api/access-requests?state=pending", headers=who[BOB])
    assert [r["id"] for r in pending.json()["items"]] == [request["id"]]
    own = await admin.post(
        f"/api/access-requests/{request['id']}/approve", json={}, headers=who[ALICE]
    )
    assert own.status_code == 403, own.text

    clock.advance(60)
    approved = await admin.post(
        f"/api/access-requests/{request['id']}/approve", json={"note": "go"}, headers=who[BOB]
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["state"], body["decided_by"], body["note"]) == ("approved", BOB, "go")
    grants = (await admin.get("/api/grants", params={"subject": f"user:{ALICE}"})).json()["items"]
    assert [(g["role"], g["resource"], g["id"]) for g in grants] == [
        ("viewer", "web", body["grant"])
    ]
    assert grants[0]["expires"] == body["grant_expires"]
    assert await _token(admin, who[ALICE], "web") == 201

    # Two hours after the approval (not the request) the grant lapses, and is audited.
    clock.advance(7200 - 1)
    assert lapse.sweep(started.authority) == 0
    assert await _token(admin, who[ALICE], "web") == 201
    clock.advance(1)
    assert lapse.sweep(started.authority) == 1
    assert await _token(admin, who[ALICE], "web") == 403
    assert (await admin.get("/api/grants", params={"subject": f"user:{ALICE}"})).json()[
        "items"
    ] == []
    steps = [kind for kind, _ in await _kinds(admin, "access_request.")]
    assert steps == ["access_request.created", "access_request.approved"]
    grant_steps = [
        (k, d.get("request"))
        for k, d in await _kinds(admin, "grant.")
        if d.get("subject") == f"user:{ALICE}"
    ]
    assert grant_steps == [("grant.created", request["id"]), ("grant.lapsed", None)]


async def test_who_may_answer(admin: httpx.AsyncClient) -> None:
    who = await _world(admin)
    on_web = (await admin.post("/api/access-requests", json=_ask(), headers=who[ALICE])).json()
    on_reports = (
        await admin.post(
            "/api/access-requests", json=_ask(resource="web.reports"), headers=who[ALICE]
        )
    ).json()
    on_db = (
        await admin.post("/api/access-requests", json=_ask(resource="db"), headers=who[ALICE])
    ).json()
    # carol answers for web.reports only; for the rest the requests do not exist for her.
    listed = (await admin.get("/api/access-requests", headers=who[CAROL])).json()["items"]
    assert [r["id"] for r in listed] == [on_reports["id"]]
    refused = await admin.post(
        f"/api/access-requests/{on_web['id']}/approve", json={}, headers=who[CAROL]
    )
    assert refused.status_code == 404
    # bob's approver grant on jot.web covers web.reports too, but not db.
    bob_sees = (await admin.get("/api/access-requests", headers=who[BOB])).json()["items"]
    assert {r["id"] for r in bob_sees} == {on_web["id"], on_reports["id"]}
    denied = await admin.post(
        f"/api/access-requests/{on_reports['id']}/deny", json={"note": "no"}, headers=who[BOB]
    )
    assert denied.json()["state"] == "denied"
    again = await admin.post(
        f"/api/access-requests/{on_reports['id']}/approve", json={}, headers=who[CAROL]
    )
    assert again.status_code == 409
    assert "denied by bob@example.com" in again.json()["message"]
    # The requester sees all three; only the admin answers for db.
    mine = (await admin.get("/api/access-requests", headers=who[ALICE])).json()["items"]
    assert len(mine) == 3
    by_admin = await admin.post(f"/api/access-requests/{on_db['id']}/approve", json={})
    assert by_admin.json()["decided_by"] == "admin"


async def test_nobody_approves_their_own_request(admin: httpx.AsyncClient) -> None:
    who = await _world(admin)
    # An admin who wants access asks someone else too.
    mine = (await admin.post("/api/access-requests", json=_ask(resource="db"))).json()
    refused = await admin.post(f"/api/access-requests/{mine['id']}/approve", json={})
    assert refused.status_code == 403
    assert refused.json()["message"] == "you cannot answer your own request; another approver must"
    # bob, approver for web, asks for web: another approver (or an admin) must answer.
    bobs = (await admin.post("/api/access-requests", json=_ask(), headers=who[BOB])).json()
    own = await admin.post(f"/api/access-requests/{bobs['id']}/deny", json={}, headers=who[BOB])
    assert own.status_code == 403


async def test_mine_lists_only_ones_own(admin: httpx.AsyncClient) -> None:
    """``mine`` keeps one's own requests from being crowded out of an admin's or an approver's
    list by everyone else's."""
    who = await _world(admin)
    alices = await _ok(admin, "POST", "/api/access-requests", json=_ask(), headers=who[ALICE])
    bobs = await _ok(admin, "POST", "/api/access-requests", json=_ask(), headers=who[BOB])
    admins = await _ok(admin, "POST", "/api/access-requests", json=_ask(resource="db"))
    every = (await _ok(admin, "GET", "/api/access-requests")).json()["items"]
    assert len(every) == 3
    for headers, made in (({}, admins), (who[BOB], bobs), (who[ALICE], alices)):
        listed = await _ok(admin, "GET", "/api/access-requests?mine=true", headers=headers)
        assert [r["id"] for r in listed.json()["items"]] == [made.json()["id"]]


async def test_requests_expire_unanswered(
    admin: httpx.AsyncClient, started: Started, clock: FakeClock
) -> None:
    who = await _world(admin)
    request = (await admin.post("/api/access-requests", json=_ask(), headers=who[ALICE])).json()
    clock.advance(started.authority.settings.access_request_ttl)
    # Expired before any sweep: it reads so and cannot be approved.
    shown = await admin.get(f"/api/access-requests/{request['id']}", headers=who[ALICE])
    assert shown.json()["state"] == "expired"
    late = await admin.post(
        f"/api/access-requests/{request['id']}/approve", json={}, headers=who[BOB]
    )
    assert late.status_code == 409
    assert "expired unanswered" in late.json()["message"]
    assert lapse.sweep(started.authority) == 1
    assert lapse.sweep(started.authority) == 0
    listed = (await admin.get("/api/access-requests?state=expired", headers=who[BOB])).json()
    assert [r["id"] for r in listed["items"]] == [request["id"]]
    assert [k for k, _ in await _kinds(admin, "access_request.")][-1] == "access_request.expired"
    # The same thing may be asked again now.
    again = await admin.post("/api/access-requests", json=_ask(), headers=who[ALICE])
    assert again.status_code == 201


async def test_bad_requests_are_one_line(admin: httpx.AsyncClient, started: Started) -> None:
    who = await _world(admin)
    cases = [
        (_ask(resource="nope"), 404, "no destination named 'nope'; create it first"),
        (_ask(duration=30), 400, None),
        (
            _ask(duration=started.authority.settings.access_request_max_duration + 1),
            400,
            "the longest access this authority grants on request is 168 h",
        ),
        (_ask(role="approver", resource="jot"), 400, None),
        ({**_ask(), "reason": "two\nlines"}, 400, None),
        ({**_ask(), "extra": 1}, 400, None),
    ]
    for body, status, message in cases:
        response = await admin.post("/api/access-requests", json=body, headers=who[ALICE])
        assert response.status_code == status, (body, response.text)
        if message:
            assert response.json()["message"] == message
    first = await admin.post("/api/access-requests", json=_ask(), headers=who[ALICE])
    twice = await admin.post("/api/access-requests", json=_ask(), headers=who[ALICE])
    assert twice.status_code == 409
    assert first.json()["id"] in twice.json()["message"]
    await _ok(
        admin,
        "POST",
        "/api/grants",
        json={"subject": f"user:{ALICE}", "role": "r", "resource": "db"},
    )
    held = await admin.post("/api/access-requests", json=_ask("r", "db"), headers=who[ALICE])
    assert held.status_code == 400
    assert "already, with no end" in held.json()["message"]
    missing = await admin.get("/api/access-requests/nope", headers=who[ALICE])
    assert missing.status_code == 404


async def test_cancel_and_extend(
    admin: httpx.AsyncClient, started: Started, clock: FakeClock
) -> None:
    who = await _world(admin)
    first = (await admin.post("/api/access-requests", json=_ask(), headers=who[ALICE])).json()
    by_bob = await admin.post(f"/api/access-requests/{first['id']}/cancel", headers=who[BOB])
    assert by_bob.status_code == 403  # bob denies instead
    cancelled = await admin.post(f"/api/access-requests/{first['id']}/cancel", headers=who[ALICE])
    assert cancelled.json()["state"] == "cancelled"
    late = await admin.post(
        f"/api/access-requests/{first['id']}/approve", json={}, headers=who[BOB]
    )
    assert late.status_code == 409

    # A second approval while the first grant runs extends it (one grant, a later end).
    one = (
        await admin.post("/api/access-requests", json=_ask(duration=3600), headers=who[ALICE])
    ).json()
    granted = (
        await admin.post(f"/api/access-requests/{one['id']}/approve", json={}, headers=who[BOB])
    ).json()
    clock.advance(1800)
    two = (
        await admin.post("/api/access-requests", json=_ask(duration=3600), headers=who[ALICE])
    ).json()
    extended = (
        await admin.post(f"/api/access-requests/{two['id']}/approve", json={}, headers=who[BOB])
    ).json()
    assert extended["grant"] == granted["grant"]
    assert extended["grant_expires"] > granted["grant_expires"]
    assert [k for k, _ in await _kinds(admin, "grant.")][-2:] == ["grant.created", "grant.extended"]
    clock.advance(3600 - 1)
    assert lapse.sweep(started.authority) == 0
    assert await _token(admin, who[ALICE], "web") == 201


async def test_time_bound_admin_grants_never_count_as_the_last_admin(
    admin: httpx.AsyncClient, started: Started, clock: FakeClock
) -> None:
    who = await _world(admin)
    request = (
        await admin.post("/api/access-requests", json=_ask("admin", "jot"), headers=who[BOB])
    ).json()
    # bob is an approver for web, not for jot: only an admin answers for jot.
    carol = await admin.post(
        f"/api/access-requests/{request['id']}/approve", json={}, headers=who[CAROL]
    )
    assert carol.status_code == 404
    await _ok(admin, "POST", f"/api/access-requests/{request['id']}/approve", json={})
    assert (await admin.get("/api/users", headers=who[BOB])).status_code == 200
    grants = (await admin.get("/api/grants", params={"destination": "jot"})).json()["items"]
    permanent = next(g for g in grants if g["role"] == "admin" and g["expires"] is None)
    refused = await admin.delete(f"/api/grants/{permanent['id']}")
    assert refused.status_code == 400
    assert "last admin grant" in refused.json()["message"]
    clock.advance(7200)
    assert lapse.sweep(started.authority) == 1
    assert (await admin.get("/api/users", headers=who[BOB])).status_code == 403


async def test_an_approver_through_a_group_until_the_grant_lapses(
    admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Approvers hold their role through groups too, and only while the grant runs: the same
    rule (:mod:`jot.api.roles`) as every other role."""
    who = await _world(admin)
    await _ok(admin, "POST", "/api/groups", json={"name": "oncall"})
    await _ok(admin, "POST", "/api/groups/oncall/members", json={"name": CAROL})
    grant = {"subject": "group:oncall", "role": "approver", "resource": "jot.db", "duration": 600}
    await _ok(admin, "POST", "/api/grants", json=grant)
    first = (
        await admin.post("/api/access-requests", json=_ask(resource="db"), headers=who[ALICE])
    ).json()
    listed = (await admin.get("/api/access-requests", headers=who[CAROL])).json()["items"]
    assert first["id"] in {r["id"] for r in listed}
    clock.advance(600)  # The group's approver grant lapsed: db's requests are not carol's.
    late = await admin.post(
        f"/api/access-requests/{first['id']}/approve", json={}, headers=who[CAROL]
    )
    assert late.status_code == 404, late.text
    listed = (await admin.get("/api/access-requests", headers=who[CAROL])).json()["items"]
    assert first["id"] not in {r["id"] for r in listed}


async def test_one_person_cannot_flood_the_approvers(
    admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Each request notifies the approvers: one person has at most MAX_PENDING waiting."""
    from jot.api.requests import MAX_PENDING

    who = await _world(admin)
    made = [
        await _ok(admin, "POST", "/api/access-requests", json=_ask(f"r{n}"), headers=who[ALICE])
        for n in range(MAX_PENDING)
    ]
    flood = await admin.post("/api/access-requests", json=_ask("one-more"), headers=who[ALICE])
    assert flood.status_code == 429, flood.text
    assert flood.json()["message"] == (
        f"you have {MAX_PENDING} requests waiting for an answer; cancel one or wait"
    )
    assert int(flood.headers["Retry-After"]) == 3600  # When the oldest expires unanswered.
    # Others are not held up by it; one answered (or cancelled) makes room.
    other = await admin.post("/api/access-requests", json=_ask(), headers=who[CAROL])
    assert other.status_code == 201
    first = made[0].json()["id"]
    await _ok(admin, "POST", f"/api/access-requests/{first}/cancel", headers=who[ALICE])
    again = await admin.post("/api/access-requests", json=_ask("one-more"), headers=who[ALICE])
    assert again.status_code == 201
    clock.advance(3600)  # All expired unanswered: room again.
    later = await admin.post("/api/access-requests", json=_ask("x"), headers=who[ALICE])
    assert later.status_code == 201


async def test_an_approval_never_grants_past_the_current_cap(
    admin: httpx.AsyncClient, started: Started
) -> None:
    """A request made under a longer cap (the operator lowered it since) is not approved for
    its old duration."""
    from sqlalchemy import update

    from jot.authority.models import AccessRequest

    who = await _world(admin)
    asked = (await admin.post("/api/access-requests", json=_ask(), headers=who[ALICE])).json()
    longest = started.authority.settings.access_request_max_duration
    with started.authority.db.transaction() as session:
        session.execute(
            update(AccessRequest)
            .where(AccessRequest.id == asked["id"])
            .values(duration=longest + 60)
        )
    answer = f"/api/access-requests/{asked['id']}/approve"
    refused = await admin.post(answer, json={}, headers=who[BOB])
    assert refused.status_code == 409, refused.text
    assert "longer than the 168 h this authority now grants" in refused.json()["message"]
    shown = (await admin.get(f"/api/access-requests/{asked['id']}", headers=who[ALICE])).json()
    assert (shown["state"], shown["grant"]) == ("pending", None)
    assert await _token(admin, who[ALICE], "web") == 403


def test_chat_text_cannot_ping_or_dress_up_links() -> None:
    """A reason with Slack/Mattermost control sequences reaches the chat as plain text; the
    structured request keeps it as it was typed."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from jot.api.requests import AccessRequest as Shown
    from jot.authority.handlers.requests import notify

    sent: list[tuple[str, dict]] = []
    notifier = SimpleNamespace(send=lambda event, payload: sent.append((event, payload)))
    reason = "<!channel> approve fast: <https://evil.example|https://jot.example/approve> & go"
    now = datetime.now(UTC)
    shown = Shown(
        id="r1", requester="alice", role="viewer", resource="web", duration=3600,
        reason=reason, state="pending", created=now, expires=now,
    )  # fmt: skip
    notify(SimpleNamespace(notifier=notifier), "access_request.created", shown, None)  # type: ignore[arg-type]
    ((_event, payload),) = sent
    assert "<" not in payload["text"]
    assert ">" not in payload["text"]
    assert "&lt;!channel&gt;" in payload["text"]
    assert "&amp; go" in payload["text"]
    assert payload["request"]["reason"] == reason


async def test_asking_and_cancelling_in_a_loop_is_bounded(
    admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Cancelling makes room among the waiting, not among the hour's requests: both notify."""
    from jot.api.requests import MAX_PER_HOUR

    who = await _world(admin)
    for _ in range(MAX_PER_HOUR):
        made = await _ok(admin, "POST", "/api/access-requests", json=_ask(), headers=who[ALICE])
        await _ok(
            admin, "POST", f"/api/access-requests/{made.json()['id']}/cancel", headers=who[ALICE]
        )
        clock.advance(60)
    looped = await admin.post("/api/access-requests", json=_ask(), headers=who[ALICE])
    assert looped.status_code == 429, looped.text
    assert (
        looped.json()["message"] == f"you asked {MAX_PER_HOUR} times in the last hour; wait a while"
    )
    assert int(looped.headers["Retry-After"]) == 3600 - 60 * MAX_PER_HOUR
    clock.advance(3600 - 60 * MAX_PER_HOUR + 1)  # The first one left the hour.
    assert (
        await admin.post("/api/access-requests", json=_ask(), headers=who[ALICE])
    ).status_code == 201


async def test_no_self_approval_through_a_group_or_another_spelling(
    admin: httpx.AsyncClient,
) -> None:
    """An approver by group membership asking for themselves is refused as any approver;
    a second identity under another spelling of the name cannot be made to approve with."""
    who = await _world(admin)
    await _ok(admin, "POST", "/api/groups", json={"name": "approvers"})
    await _ok(admin, "POST", "/api/groups/approvers/members", json={"name": ALICE})
    grant = {"subject": "group:approvers", "role": "approver", "resource": "jot.db"}
    await _ok(admin, "POST", "/api/grants", json=grant)
    mine = (
        await admin.post("/api/access-requests", json=_ask(resource="db"), headers=who[ALICE])
    ).json()
    own = await admin.post(
        f"/api/access-requests/{mine['id']}/approve", json={}, headers=who[ALICE]
    )
    assert own.status_code == 403
    assert own.json()["message"] == "you cannot answer your own request; another approver must"
    twin = await admin.post("/api/users", json={"name": ALICE.upper()})
    assert twin.status_code == 409, twin.text  # Names are one whatever their case.
    assert await _token(admin, who[ALICE], "db") == 403  # Nothing was granted.
