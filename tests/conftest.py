"""Shared fixtures. The ``store`` fixture runs every behaviour test against every store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from eureka_embed.storage import MemoryStore, Store

StoreFactory = Callable[[], Store]

#: One entry per backend; each behaviour test runs once per entry.
STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": MemoryStore,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    made = STORE_FACTORIES[request.param]()
    try:
        yield made
    finally:
        made.close()
