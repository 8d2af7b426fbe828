"""The reliability tests: faults, fuzzing and the API contract, against live servers."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: a bounded fault or fuzz run of seconds (still run in CI)"
    )
