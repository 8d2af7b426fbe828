"""A registry on a manual clock; its WSGI app driven by falcon.testing."""

from __future__ import annotations

from collections.abc import Iterator

import falcon.testing
import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.registry import Registry
from eureka_embed.wsgi import create_app


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
def client(registry: Registry) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(registry, max_body_bytes=64 * 1024))
