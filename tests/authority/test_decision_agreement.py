"""One decision (issue 19 item 6): on random grant sets — users, groups and memberships,
grants on a resource hierarchy, some time-bound (lapsed or not), some subjects revoked — the
authority's answers (its token endpoint's decision and ``jot grants check``'s roles, read
from its database) and a destination's (from the grants list it syncs, over the wire) agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from jot.api import GrantList
from jot.authority import grants_store, revocations, tokens
from jot.authority.authcache import Caller
from jot.authority.clock import to_datetime
from jot.authority.context import Context
from jot.authority.db import Database
from jot.authority.errors import Forbidden
from jot.authority.handlers.explain import explain
from jot.authority.models import (
    Base,
    Destination,
    Grant,
    Group,
    Identity,
    Membership,
    Revocation,
)
from jot.destination.grants import GrantIndex

NOW = 1_800_000_000.0
USERS = ("u0", "u1", "u2")
GROUPS = ("g0", "g1")
RESOURCES = ("d", "d.a", "d.a.b", "d.b", "e", "e.a")
SUBJECTS = tuple(f"user:{u}" for u in USERS) + tuple(f"group:{g}" for g in GROUPS)
#: None: until removed; else seconds from NOW (negative: lapsed already; 0: lapses now).
ENDS = (None, None, -30.0, 0.0, 30.0)


@dataclass(frozen=True)
class World:
    members: frozenset[tuple[str, str]]
    grants: dict[tuple[str, str, str], float | None]
    #: Revoked users, with the entry's end from NOW (negative: aged out).
    revoked: dict[str, float]


worlds = st.builds(
    World,
    members=st.frozensets(st.tuples(st.sampled_from(USERS), st.sampled_from(GROUPS))),
    grants=st.dictionaries(
        st.tuples(
            st.sampled_from(SUBJECTS), st.sampled_from(("r1", "r2")), st.sampled_from(RESOURCES)
        ),
        st.sampled_from(ENDS),
        max_size=12,
    ),
    revoked=st.dictionaries(st.sampled_from(USERS), st.sampled_from((-1.0, 100.0)), max_size=2),
)


def _store(db: Database, world: World) -> None:
    at = to_datetime(NOW)
    with db.transaction() as session:
        for table in (Revocation, Grant, Membership, Group, Identity, Destination):
            session.execute(delete(table))
        for user in USERS:
            session.add(Identity(id=f"i-{user}", name=user, kind="user", created=at, updated=at))
        for group in GROUPS:
            session.add(Group(id=f"g-{group}", name=group, created=at))
        for name in ("d", "e"):
            session.add(
                Destination(id=f"d-{name}", name=name, kind="http", lifetime=300,
                            group_narrowing="all", created=at, updated=at)
            )  # fmt: skip
        session.flush()
        for user, group in world.members:
            session.add(Membership(group_id=f"g-{group}", identity_id=f"i-{user}"))
        for number, ((subject, role, resource), end) in enumerate(world.grants.items()):
            kind, _, name = subject.partition(":")
            session.add(
                Grant(
                    id=f"gr{number}", role=role, resource=resource, created=at,
                    identity_id=f"i-{name}" if kind == "user" else None,
                    group_id=f"g-{name}" if kind == "group" else None,
                    destination_id=f"d-{resource.partition('.')[0]}",
                    expires=None if end is None else at + timedelta(seconds=end),
                )
            )  # fmt: skip
        for number, (user, end) in enumerate(world.revoked.items()):
            session.add(
                Revocation(id=f"rv{number}", kind="subject", value=f"i-{user}",
                           target=f"user:{user}", until=at + timedelta(seconds=end), created=at,
                           actor="admin")
            )  # fmt: skip


def _destination_view(db: Database) -> GrantIndex:
    """What a destination holds: the authority's grants list, as it crosses the wire."""
    with db.transaction(write=False) as session:
        listed = GrantList(
            items=grants_store.listing(session), revision=1,
            revoked=revocations.live(session, to_datetime(NOW)),
        )  # fmt: skip
    wire = GrantList.model_validate_json(listed.model_dump_json())
    return GrantIndex((g.model_dump() for g in wire.items), wire.revoked)


def _check(db: Database, world: World) -> None:
    _store(db, world)
    index = _destination_view(db)
    for user in USERS:
        groups = sorted(g for u, g in world.members if u == user)
        caller = Caller(f"i-{user}", user, "user")
        refused = index.revoked(caller.id, "some-jti", now=NOW)
        with db.transaction(write=False) as session:
            ctx = Context(None, session, to_datetime(NOW), None)  # type: ignore[arg-type]
            for destination in ("d", "e"):
                try:
                    tokens.decide(session, caller, groups, destination, now=NOW)
                    issued = True
                except Forbidden:
                    issued = False
                # The destination gives some role within it, exactly when a token is issued.
                within = set().union(
                    *(
                        index.roles_for(user, groups, resource, now=NOW)
                        for resource in RESOURCES
                        if resource.partition(".")[0] == destination
                    )
                )
                assert issued == (bool(within) and not refused), (user, destination)
            for resource in RESOURCES:
                # `jot grants check` (the console's explain) and the destination: same roles.
                checked = set(explain(ctx, f"user:{user}", resource).roles)
                at_destination = (
                    set() if refused else index.roles_for(user, groups, resource, now=NOW)
                )
                assert checked == at_destination, (user, resource)


def test_the_authority_and_a_destination_decide_alike(db_url: str) -> None:
    """On SQLite and PostgreSQL (whose time and string comparisons are their own)."""
    db = Database(db_url)
    Base.metadata.create_all(db.engine)
    examples = 150 if db_url.startswith("sqlite") else 60

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(world=worlds)
    def agree(world: World) -> None:
        _check(db, world)

    try:
        agree()
    finally:
        db.dispose()
