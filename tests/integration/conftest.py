"""Fixtures for tests against a live ``eureka-embed serve`` process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.support import ServeProcess, serve_process


@pytest.fixture
def live_server() -> Iterator[ServeProcess]:
    """A fresh ``eureka-embed serve`` child on a free port (``.base_url``), always stopped."""
    with serve_process() as server:
        yield server
