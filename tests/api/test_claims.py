"""The token profile of jot.api.claims: one builder, one required list, one set of bounds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jot.api.claims import (
    DEFAULT_LIFETIME,
    MAX_LIFETIME,
    MIN_LIFETIME,
    REQUIRED_CLAIMS,
    Claims,
    build_claims,
)
from jot.api.destinations import DestinationCreate


def _claims(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "issuer": "https://auth.example",
        "subject": "id1",
        "audience": "web",
        "name": "alice",
        "groups": ("dev", "ops"),
        "issued_at": 1_000_000,
        "lifetime": DEFAULT_LIFETIME,
        "skew": 300,
    }
    values.update(overrides)
    return build_claims(**values)  # type: ignore[arg-type]


def test_the_builder_makes_every_claim_of_the_profile() -> None:
    claims = _claims(nonce="n", jti="j")
    assert claims == {
        "iss": "https://auth.example",
        "sub": "id1",
        "aud": "web",
        "name": "alice",
        "groups": ["dev", "ops"],
        "iat": 1_000_000,
        "nbf": 1_000_000 - 300,
        "exp": 1_000_000 + DEFAULT_LIFETIME,
        "nonce": "n",
        "jti": "j",
    }
    assert Claims.model_validate(claims).model_dump() == claims
    assert set(REQUIRED_CLAIMS) <= set(claims)


def test_every_token_gets_a_fresh_nonce_and_jti() -> None:
    first, second = _claims(), _claims()
    assert first["nonce"] != second["nonce"]
    assert first["jti"] != second["jti"]


def test_destinations_take_exactly_the_lifetime_bounds() -> None:
    assert MIN_LIFETIME < DEFAULT_LIFETIME < MAX_LIFETIME
    assert DestinationCreate(name="web").lifetime == DEFAULT_LIFETIME
    for ok in (MIN_LIFETIME, MAX_LIFETIME):
        assert DestinationCreate(name="web", lifetime=ok).lifetime == ok
    for bad in (MIN_LIFETIME - 1, MAX_LIFETIME + 1):
        with pytest.raises(ValidationError):
            DestinationCreate(name="web", lifetime=bad)
