"""Fixtures for the client tests. Every test checks that the client left no thread running."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from tests.client.support import LoopbackHandler, LoopbackServer

CLIENT_THREAD_PREFIX = "eureka-client"


def _client_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(CLIENT_THREAD_PREFIX)]


@pytest.fixture(autouse=True)
def no_client_threads_left() -> Iterator[None]:
    """Fail any test after which a thread the client started is still alive."""
    before = set(_client_threads())
    yield
    deadline = time.monotonic() + 5
    left = [t for t in _client_threads() if t not in before]
    while left and time.monotonic() < deadline:
        left[0].join(0.1)
        left = [t for t in left if t.is_alive()]
    assert left == [], f"client threads still running: {[t.name for t in left]}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def registry(clock: ManualClock) -> Registry:
    return Registry(clock=clock)


@pytest.fixture
def eureka_server() -> Iterator[EurekaServer]:
    """A real server on 127.0.0.1 and a free port, with a fresh registry; always stopped."""
    server = EurekaServer(
        Registry(config=RegistryConfig(self_preservation=False)),
        maintenance=False,
        shutdown_timeout=5.0,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def loopback() -> Iterator[Callable[[LoopbackHandler], LoopbackServer]]:
    """Starts tiny HTTP servers answering a handler function; stops them after the test."""
    started: list[LoopbackServer] = []

    def start(handler: LoopbackHandler) -> LoopbackServer:
        server = LoopbackServer(handler).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
