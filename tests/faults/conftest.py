"""The fault suite: ``make test`` runs the scenarios with short faults; ``make faults`` sets
``JOT_FAULTS_SOAK=1``, which lengthens them and adds the tests marked ``soak``."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("JOT_FAULTS_SOAK") == "1":
        return
    for item in items:
        if item.get_closest_marker("soak") is not None:
            item.add_marker(pytest.mark.skip(reason="a soak scenario: run by `make faults`"))
