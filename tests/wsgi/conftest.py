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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Generate only the endpoint tests' pairs that say something: neither the base path nor the
    adapter decides anything about storage, so ``test_endpoints.py`` runs the SQL stores under
    ``/eureka`` on the WSGI adapter only for the tests on its ``registry`` (the other pairs are
    the memory store's), and the suite
    stays quick. Deselected, not skipped: a skip would report a gap where there is none."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        other_pair = (
            params.get("base", "/eureka") != "/eureka" or params.get("create_app") != "wsgi"
        )
        if (
            item.path.name == "test_endpoints.py"
            and "registry" in getattr(item, "fixturenames", ())
            and params.get("store", "memory") != "memory"
            and other_pair
        ):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
