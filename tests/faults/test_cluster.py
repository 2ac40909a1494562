"""Issue 13's fault suite on a whole deployment (tests/faults/cluster.py): two replicas on
PostgreSQL behind nginx, Redis, forward auth. Under load, one fault at a time:

A. SIGKILL of a replica, then its restart;   D. PostgreSQL stopped, then started;
B. SIGKILL of the connector, then its restart;   E. the authority down (both replicas);
C. Redis stopped, then started empty;

and each phase asserts on counts: acknowledged writes lost = 0, valid tokens refused = 0
(outside the documented windows), answers other than 2xx/4xx/503 = 0, recovery within its
bound. ``make faults`` (``JOT_FAULTS_SOAK=1``) runs the same with longer faults; the
figures go to ``$JOT_FAULTS_REPORT`` when set (docs/reliability.md's table).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .cluster import Cluster, cluster
from .load import Load

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

SOAK = os.environ.get("JOT_FAULTS_SOAK") == "1"
#: Seconds each fault lasts: the issue's minute for the authority outage in the soak.
FAULT = 10.0 if SOAK else 3.0
AUTHORITY_DOWN = 60.0 if SOAK else 8.0
SETTLE = 5.0 if SOAK else 2.0
RECOVERY = 2.0


class Tokens:
    """The newest tokens issued (for forward-auth load): decided with whatever is cached."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.lock = threading.Lock()

    def add(self, token: str) -> None:
        with self.lock:
            self.items = [*self.items[-50:], token]

    def pick(self, n: int) -> str:
        with self.lock:
            return self.items[n % len(self.items)]


def _load(c: Cluster, tokens: Tokens, acknowledged: list[str], *, writes: bool = True) -> Load:
    load = Load("", pause=0.01)
    user = {"Authorization": f"Bearer {c.user_key}"}
    admin = {"Authorization": f"Bearer {c.admin_key}"}

    def token(http: httpx.Client, _n: int) -> httpx.Response:
        response = http.post(c.lb + "/api/tokens", json={"destination": "web"}, headers=user)
        if response.status_code == 201:
            tokens.add(response.json()["token"])
        return response

    def write(http: httpx.Client, n: int) -> httpx.Response:
        name = f"g{time.monotonic_ns()}-{n}"
        response = http.post(c.lb + "/api/groups", json={"name": name}, headers=admin)
        if response.status_code == 201:
            acknowledged.append(name)
        return response

    load.add("token", token, threads=2)
    if writes:
        load.add("write", write)
    load.add("decide", lambda http, n: _decide(http, c, tokens.pick(n)), threads=2)
    return load


def _decide(http: httpx.Client, c: Cluster, token: str) -> httpx.Response:
    return http.get(c.forward_auth.url + "/", headers={"Authorization": f"Bearer {token}"})


def _check(load: Load, figures: dict[str, Any], phase: str, *, skip: float = 0.0) -> None:
    """Counts of a phase: nothing but 2xx/4xx/503 (after ``skip``, the documented window
    of a connector restart), and no valid token refused by forward auth."""
    outcomes = [o for o in load.outcomes if o.kind != "decide" or o.at >= skip]
    bad = [o for o in outcomes if o.status == 0 or (o.status >= 500 and o.status != 503)]
    refused = [o for o in outcomes if o.kind == "decide" and o.status in (401, 403)]
    figures[phase].update(
        requests=len(load.outcomes),
        non_503_5xx_or_no_answer=len(bad),
        answered_503=sum(o.status == 503 for o in outcomes),
        valid_tokens_refused=len(refused),
    )
    assert bad == [], (phase, bad[:5])
    assert refused == [], (phase, refused[:5])


def _issue_until_ok(c: Cluster, tokens: Tokens) -> None:
    with httpx.Client(timeout=10) as http:
        headers = {"Authorization": f"Bearer {c.user_key}"}
        response = http.post(c.lb + "/api/tokens", json={"destination": "web"}, headers=headers)
        assert response.status_code == 201, response.text
        tokens.add(response.json()["token"])


def _replica_killed(c: Cluster, tokens: Tokens, acknowledged: list[str], f: dict) -> None:
    load = _load(c, tokens, acknowledged)
    time.sleep(SETTLE)
    c.replicas[0].kill()
    time.sleep(FAULT)
    c.replicas[0].start(wait=False)
    f["restart_to_ready_s"] = round(c.replicas[0].wait_ready(), 2)
    time.sleep(SETTLE)
    load.stop()
    _check(load, {"A": f}, "A")


def _connector_killed(c: Cluster, tokens: Tokens, acknowledged: list[str], f: dict) -> None:
    load = _load(c, tokens, acknowledged, writes=False)
    time.sleep(SETTLE)
    c.forward_auth.kill()
    time.sleep(1.0)
    c.forward_auth.start(wait=False)
    listening = time.monotonic()
    # The burst at a cold start: every one is decided (issue 13 item 2), none gets a 503.
    burst: list[int] = []
    while True:
        try:
            with httpx.Client(timeout=10) as http:
                first = _decide(http, c, tokens.pick(0)).status_code
            break
        except httpx.ConnectError:
            time.sleep(0.01)
    back = time.monotonic()
    f["connector_restart_to_first_answer_s"] = round(back - listening, 2)

    def one(n: int) -> None:
        with httpx.Client(timeout=10) as http:
            burst.append(_decide(http, c, tokens.pick(n)).status_code)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(SETTLE)
    load.stop()
    f["cold_start_burst"] = f"{burst.count(200)}/16 decided 200"
    assert first == 200
    assert burst == [200] * 16
    _check(load, {"B": f}, "B", skip=back)


def _redis_restarted(c: Cluster, tokens: Tokens, acknowledged: list[str], f: dict) -> None:
    load = _load(c, tokens, acknowledged)
    time.sleep(SETTLE)
    c.redis.stop()
    time.sleep(FAULT)
    c.redis.start()
    time.sleep(SETTLE)
    load.stop()
    _check(load, {"C": f}, "C")
    f["tokens_issued_during_outage"] = sum(o.status == 201 for o in load.of("token"))


def _database_stopped(c: Cluster, tokens: Tokens, acknowledged: list[str], f: dict) -> None:
    load = _load(c, tokens, acknowledged)
    time.sleep(SETTLE)
    c.pg.stop()
    time.sleep(FAULT)
    c.pg.start()
    back = time.monotonic()
    time.sleep(SETTLE)
    load.stop()
    _check(load, {"D": f}, "D")
    caught = [load.first_success_after(kind, back) for kind in ("token", "write")]
    f["recovery_s"] = round(max(x if x is not None else 99.0 for x in caught), 2)
    after = [(o.kind, round(o.at - back, 2), o.status) for o in load.outcomes if o.at >= back]
    assert f["recovery_s"] < RECOVERY, after[:40]


def _revoked_token(c: Cluster, f: dict) -> str:
    """A token revoked at the authority (the database is the deny-list's source); when
    forward auth refuses it."""
    with httpx.Client(timeout=10) as http:
        headers = {"Authorization": f"Bearer {c.user_key}"}
        token = http.post(c.lb + "/api/tokens", json={"destination": "web"}, headers=headers)
        denied = token.json()["token"]
        claims = json.loads(base64.urlsafe_b64decode(denied.split(".")[1] + "=="))
        assert _decide(http, c, denied).status_code == 200
        with c.admin() as api:
            assert api.post("/api/revocations", json={"token": claims["jti"]}).status_code == 201
        revoked = time.monotonic()
        while _decide(http, c, denied).status_code != 401:
            assert time.monotonic() - revoked < 10, "the revocation never arrived"
            time.sleep(0.05)
    f["revocation_reached_forward_auth_s"] = round(time.monotonic() - revoked, 2)
    return denied


def _authority_down(c: Cluster, tokens: Tokens, f: dict) -> None:
    denied = _revoked_token(c, f)
    # Only forward auth is under load: with both replicas gone, nginx itself answers 502.
    load = Load("", pause=0.01)
    load.add("decide", lambda http, n: _decide(http, c, tokens.pick(n)), threads=2)
    load.add("denied", lambda http, _n: _decide(http, c, denied))
    time.sleep(1.0)
    for replica in c.replicas:
        replica.kill()
    time.sleep(AUTHORITY_DOWN)
    for replica in c.replicas:
        replica.start(wait=False)
    for replica in c.replicas:
        replica.wait_ready()
    ready = time.monotonic()
    with c.admin() as api:
        # nginx holds both replicas as failed for its fail_timeout (2 s) after the outage.
        grant = {"subject": "user:alice@example.com", "role": "editor", "resource": "web"}
        while (status := api.post("/api/grants", json=grant).status_code) == 502:
            assert time.monotonic() - ready < 5, "nginx never took the replicas back"
            time.sleep(0.05)
        assert status == 201
    changed = time.monotonic()
    f["lb_back_after_replicas_ready_s"] = round(changed - ready, 2)
    with httpx.Client(timeout=10) as http:
        while "editor" not in _decide(http, c, tokens.pick(0)).headers.get("x-jot-roles", ""):
            assert time.monotonic() - changed < 30, "the grant change never arrived"
            time.sleep(0.05)
    f["grant_change_after_return_s"] = round(time.monotonic() - changed, 2)
    load.stop()
    _check(load, {"E": f}, "E")
    # The revoked token stayed refused throughout: before, during and after the outage.
    f["revoked_token_accepted"] = sum(o.status != 401 for o in load.of("denied"))
    assert f["revoked_token_accepted"] == 0
    assert f["grant_change_after_return_s"] < RECOVERY


@pytest.mark.timeout(1200)
def test_a_deployment_survives_its_faults(tmp_path: Path) -> None:
    figures: dict[str, dict[str, Any]] = {k: {} for k in "ABCDE"}
    tokens, acknowledged = Tokens(), []
    with cluster(tmp_path) as c:
        _issue_until_ok(c, tokens)
        _replica_killed(c, tokens, acknowledged, figures["A"])
        _connector_killed(c, tokens, acknowledged, figures["B"])
        _redis_restarted(c, tokens, acknowledged, figures["C"])
        _database_stopped(c, tokens, acknowledged, figures["D"])
        _authority_down(c, tokens, figures["E"])
        with c.admin() as api:
            groups = api.get("/api/groups").json()["items"]
        lost = set(acknowledged) - {g["name"] for g in groups}
        figures["A"]["acknowledged_writes"] = len(acknowledged)
        figures["A"]["acknowledged_writes_lost"] = len(lost)
        log = c.all_logs()
    report = os.environ.get("JOT_FAULTS_REPORT")
    if report:
        Path(report).write_text(json.dumps({"soak": SOAK, **figures}, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    assert lost == set()
    assert "Traceback" not in log
