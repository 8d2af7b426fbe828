"""Fixtures for tests against a live ``eureka-embed serve`` process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.support import SERVERS, ServeProcess, serve_process


@pytest.fixture(params=SERVERS)
def live_server(request: pytest.FixtureRequest) -> Iterator[ServeProcess]:
    """A fresh ``eureka-embed serve`` child on a free port (``.base_url``), always stopped;
    once on each HTTP server (ids ``waitress``, ``uvicorn``)."""
    with serve_process(["--server", request.param]) as server:
        yield server
