"""Property-based fuzzing of the published OpenAPI schema: no 5xx, answers match the schema."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jot.authority.app import create_app, open_authority
from jot.authority.settings import Settings

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        if case.path == "/api/grants" and case.query:
            case.query.pop("wait", None)  # Long-polls would only make the run slow.
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()


def test_api_schema(tmp_path: Path) -> None:
    started = open_authority(Settings(data_dir=tmp_path, issuer="http://authority.test"))
    assert started.bootstrap_key is not None
    headers = {"Authorization": f"Bearer {started.bootstrap_key}"}
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(authority=started.authority)
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        _fuzz(operation, headers)
    started.authority.close()
