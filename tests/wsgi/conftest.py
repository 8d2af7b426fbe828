"""A registry on a manual clock, served by either adapter's ``create_app`` (the fixture of
tests/conftest.py), driven by falcon.testing."""

from __future__ import annotations

from collections.abc import Iterator

import falcon.testing
import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.registry import Registry
from tests.wsgi.adapters import AppFactory


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def registry(clock: ManualClock) -> Iterator[Registry]:
    made = Registry(config=RegistryConfig(self_preservation=False), clock=clock)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def client(registry: Registry, create_app: AppFactory) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(registry))


@pytest.fixture(params=["/eureka", "/eureka/v2"])
def base(request: pytest.FixtureRequest) -> str:
    """Every endpoint test runs under both base paths."""
    value: str = request.param
    return value
