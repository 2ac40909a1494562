"""The client sends the jot.api request models: their field names, only what was set."""

from __future__ import annotations

from jot.api.identities import IdentityCreate
from jot.client import ops
from jot.client._core import body_of


def test_bodies_are_the_models_with_secrets_in_clear() -> None:
    assert body_of(IdentityCreate, name="alice", password="s3cret-pass", kind=None) == {
        "name": "alice",
        "password": "s3cret-pass",
    }
    assert ops.user_create("bob").json == {"name": "bob", "kind": "user"}
    assert ops.token("web").json == {"destination": "web"}
    assert ops.change_password("a", "b" * 8).json == {"current": "a", "new": "b" * 8}
    assert ops.destination_update("web", lifetime=600, kind=None).json == {"lifetime": 600}


def test_a_value_the_model_refuses_is_left_for_the_authority_to_refuse() -> None:
    assert body_of(IdentityCreate, name="bad name") == {"name": "bad name"}
    assert ops.destination_create("web", lifetime=5).json == {
        "name": "web",
        "kind": "http",
        "lifetime": 5,
    }
