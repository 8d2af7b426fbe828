"""A registry on a manual clock; its WSGI app driven by falcon.testing."""

from __future__ import annotations

import falcon.testing
import pytest

from eureka_embed.registry import Registry
from eureka_embed.wsgi import create_app
from tests.wsgi.conftest import clock, registry

__all__ = ["client", "clock", "registry"]  # fixtures shared with the WSGI tests


@pytest.fixture
def client(registry: Registry) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(registry, max_body_bytes=64 * 1024))
