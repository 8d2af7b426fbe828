"""Skip a test when an outside part (a database, node, chromium) is missing, or fail instead.

``EUREKA_EMBED_REQUIRE`` lists, comma-separated, the parts that must be there (CI sets it to
everything it installs): for those, absence is a failure, not a skip.
"""

from __future__ import annotations

import os

import pytest


def required() -> set[str]:
    names = os.environ.get("EUREKA_EMBED_REQUIRE", "")
    return {name.strip().lower() for name in names.split(",") if name.strip()}


def require(name: str, available: bool, why: str) -> None:
    """Skip (or fail, when ``name`` is required) unless ``available``; ``why`` names the gap."""
    if available:
        return
    if name.lower() in required():
        pytest.fail(f"{name} is required here (EUREKA_EMBED_REQUIRE) but unavailable: {why}")
    pytest.skip(f"{name} unavailable: {why}")
