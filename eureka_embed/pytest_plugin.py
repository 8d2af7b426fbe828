"""pytest fixtures for testing against a eureka_embed registry (entry point ``pytest11``).

Fixtures, each built from a helper in :mod:`eureka_embed.testing`:

- ``eureka_registry``: an in-memory :class:`~eureka_embed.registry.Registry`;
- ``eureka_sqlite_registry``: one in a migrated SQLite file under ``tmp_path``;
- ``eureka_server``: a running :class:`~eureka_embed.server.EurekaServer` (127.0.0.1, free
  port) over the registry the ``eureka_store`` option names;
- ``eureka_client``: the HTTP client stack bound to ``eureka_server``;
- ``eureka_time``: a :class:`~eureka_embed.testing.RegistryTime`. When a test uses it, the
  registries above are made under the frozen clock and their maintenance runs on
  ``eureka_time.advance(seconds)`` instead of real timers;
- ``eureka_registry_config``: the RegistryConfig the registries get; override it in a
  conftest to change more than the options do.

Options, each a command-line flag and an ini key (the flag wins):

======================================  =============================  ===========
flag                                    ini key                        default
======================================  =============================  ===========
``--eureka-store memory|sqlite``        ``eureka_store``               memory
``--eureka-self-preservation`` / no-    ``eureka_self_preservation``   false
``--eureka-eviction-interval SECONDS``  ``eureka_eviction_interval``   1
======================================  =============================  ===========

This module imports nothing heavy: falcon, waitress, SQLAlchemy and freezegun are imported by
the fixtures that need them, so installing the plugin costs other test suites nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

from eureka_embed import option_values as values
from eureka_embed import testing
from eureka_embed.config import RegistryConfig
from eureka_embed.registry import Registry

if TYPE_CHECKING:
    from eureka_embed.client.contract import EurekaHttpClient
    from eureka_embed.server import EurekaServer

__all__ = [
    "eureka_client",
    "eureka_registry",
    "eureka_registry_config",
    "eureka_server",
    "eureka_sqlite_registry",
    "eureka_time",
]

STORES = ("memory", "sqlite")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Options:
    store: str
    self_preservation: bool
    eviction_interval_s: float


_OPTIONS = pytest.StashKey[_Options]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("eureka_embed", "eureka_embed fixtures")
    group.addoption(
        "--eureka-store",
        dest="eureka_store",
        choices=STORES,
        help="the store behind eureka_server (ini eureka_store; default memory)",
    )
    parser.addini("eureka_store", "eureka_server's store: memory or sqlite", default="memory")
    group.addoption(
        "--eureka-self-preservation",
        dest="eureka_self_preservation",
        action=argparse.BooleanOptionalAction,
        help="test registries keep expired leases while too few renewals arrive, as Eureka "
        "does (ini eureka_self_preservation; default off)",
    )
    parser.addini(
        "eureka_self_preservation",
        "self-preservation in test registries (default false)",
        default="false",
    )
    group.addoption(
        "--eureka-eviction-interval",
        dest="eureka_eviction_interval",
        metavar="SECONDS",
        help="seconds between evictions in test registries (ini eureka_eviction_interval; "
        "default 1)",
    )
    parser.addini(
        "eureka_eviction_interval", "seconds between evictions in test registries", default="1"
    )


def pytest_configure(config: pytest.Config) -> None:
    # Read once, here: a bad value is a usage error at start, not a failure in every test.
    config.stash[_OPTIONS] = _read_options(config)


def _read_options(config: pytest.Config) -> _Options:
    def read(name: str, parse: Callable[[str], T]) -> T:
        flag = config.getoption(name)  # a --x/--no-x switch gives True or False, which parse
        raw = str(flag) if flag is not None else str(config.getini(name))
        try:
            return parse(raw)
        except ValueError as exc:
            raise pytest.UsageError(f"{name} {exc}") from None

    return _Options(
        store=read("eureka_store", values.one_of(STORES)),
        self_preservation=read("eureka_self_preservation", values.boolean),
        eviction_interval_s=read("eureka_eviction_interval", values.positive_seconds),
    )


def _time_of(request: pytest.FixtureRequest) -> testing.RegistryTime | None:
    """The test's eureka_time, made first so registries are born under the frozen clock."""
    if "eureka_time" not in request.fixturenames:
        return None
    time: testing.RegistryTime = request.getfixturevalue("eureka_time")
    return time


def _kept(registry: Registry, time: testing.RegistryTime | None) -> Iterator[Registry]:
    try:
        if time is not None:
            time.attach(registry)
        yield registry
    finally:
        if time is not None:
            time.detach(registry)
        registry.close()


@pytest.fixture
def eureka_registry_config(pytestconfig: pytest.Config) -> RegistryConfig:
    """The config of the fixtures' registries: the testing defaults and the options."""
    options = pytestconfig.stash[_OPTIONS]
    return testing.config_for_tests(
        self_preservation=options.self_preservation,
        eviction_interval_ms=max(round(options.eviction_interval_s * 1000), 1),
    )


@pytest.fixture
def eureka_time() -> Iterator[testing.RegistryTime]:
    """Frozen time; ``advance(seconds)`` also runs the fixtures' registries' maintenance."""
    with testing.RegistryTime() as time:
        yield time


@pytest.fixture
def eureka_registry(
    request: pytest.FixtureRequest, eureka_registry_config: RegistryConfig
) -> Iterator[Registry]:
    """An in-memory registry, closed after the test."""
    time = _time_of(request)
    clock = time.clock if time is not None else None
    yield from _kept(testing.memory_registry(eureka_registry_config, clock), time)


@pytest.fixture
def eureka_sqlite_registry(
    request: pytest.FixtureRequest, eureka_registry_config: RegistryConfig, tmp_path: Path
) -> Iterator[Registry]:
    """A registry in a migrated SQLite file (``tmp_path / "eureka.db"``), closed after."""
    time = _time_of(request)
    clock = time.clock if time is not None else None
    registry = testing.sqlite_registry(tmp_path / "eureka.db", eureka_registry_config, clock)
    yield from _kept(registry, time)


@pytest.fixture
def eureka_server(request: pytest.FixtureRequest) -> Iterator[EurekaServer]:
    """A running server over ``eureka_registry`` or ``eureka_sqlite_registry`` (option
    ``eureka_store``); stopped after the test."""
    store = request.config.stash[_OPTIONS].store
    fixture = "eureka_sqlite_registry" if store == "sqlite" else "eureka_registry"
    registry: Registry = request.getfixturevalue(fixture)
    # Under eureka_time, advance() runs the maintenance; the server's own would use real time.
    maintenance = "eureka_time" not in request.fixturenames
    with testing.live_server(registry, maintenance=maintenance) as server:
        yield server


@pytest.fixture
def eureka_client(eureka_server: EurekaServer) -> Iterator[EurekaHttpClient]:
    """The HTTP client stack bound to ``eureka_server``, shut down after the test."""
    client = testing.http_client(eureka_server.base_url)
    try:
        yield client
    finally:
        client.shutdown()
