"""Shared fixtures. The ``store`` fixture runs every behaviour test against every store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.sql import SqlStore
from tests.databases import server_database_url, sqlite_file_url

StoreFactory = Callable[[Path], Store]


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
