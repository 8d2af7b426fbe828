"""Shared fixtures. The ``store`` fixture runs every behaviour test against every store."""

from __future__ import annotations

import gc
import sys
import wsgiref.validate
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.sql import SqlStore
from tests.databases import server_database_url, sqlite_file_url
from tests.wsgi.adapters import ADAPTERS, AppFactory

StoreFactory = Callable[[Path], Store]

_check_content_type = wsgiref.validate.check_content_type  # type: ignore[attr-defined]


def _typed_204_allowed(status: str, headers: list[tuple[str, str]]) -> None:
    """wsgiref's check, except that a 204 may name a Content-Type.

    falcon.testing validates every answer with wsgiref, which refuses a Content-Type on a 204;
    RFC 9110 allows it, Eureka's Jersey server sends one and strict clients need it, so every
    other check of the validator stays on. (tests/wsgi/test_bodiless_content_type.py reads the
    real bytes on the wire.)
    """
    if status.startswith("204"):
        headers = [(name, value) for name, value in headers if name.lower() != "content-type"]
    _check_content_type(status, headers)


wsgiref.validate.check_content_type = _typed_204_allowed  # type: ignore[attr-defined]

# The suite runs on shared 2-core machines beside database servers: a property test's input
# generation or one example can be slow there for reasons that are not the code's. Hypothesis's
# time checks would then fail a correct test, so they are off; every example still runs.
settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-machine")


def _sql(url: str) -> Store:
    # No background thread: the behaviour tests move time with freezegun and expect every
    # effect to come from the call they make.
    return SqlStore(url, migrate_schema=True, background=False)


#: One entry per backend; each behaviour test runs once per entry.
STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": lambda _: MemoryStore(),
    "sqlite-memory": lambda _: _sql("sqlite://"),
    "sqlite-file": lambda tmp: _sql(sqlite_file_url(tmp)),
    "postgresql": lambda _: _sql(server_database_url("postgresql")),
    "mariadb": lambda _: _sql(server_database_url("mariadb")),
}


@pytest.fixture(params=list(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = STORE_FACTORIES[request.param](tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=list(ADAPTERS))
def create_app(request: pytest.FixtureRequest) -> AppFactory:
    """The app factory of each framework adapter: an HTTP behaviour test that takes it runs on
    both (ids ``wsgi`` and ``asgi``), over every store where it also takes ``store``."""
    return ADAPTERS[request.param]


@pytest.fixture
def collection_on() -> Iterator[None]:
    """CPython's automatic garbage collection on for the test, as it was after (the bulk-read
    tests check that reads turn it off and back on)."""
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.fixture(autouse=True)
def _switch_interval_restored() -> Iterator[None]:
    """``eureka-embed serve`` run in-process sets the GIL's switch interval for its process
    (cli.SWITCH_INTERVAL_S): each test gets back the one it started with."""
    was = sys.getswitchinterval()
    yield
    sys.setswitchinterval(was)
