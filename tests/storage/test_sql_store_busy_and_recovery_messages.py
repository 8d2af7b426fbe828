"""What the SQL store says, found by mutation testing: every pooled connection in use is a 503
whose reason says so, and the log line of a database back after an outage says how long it
was gone."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from eureka_embed.errors import StorageUnavailable
from eureka_embed.registry import Registry
from eureka_embed.storage.sql import SqlStore
from tests.databases import FlakyDatabase, sqlite_file_url
from tests.registry.helpers import instance
from tests.storage.test_sql_group_commit import lease, put


def test_a_write_with_every_pooled_connection_in_use_is_refused_saying_so(tmp_path: Path) -> None:
    url = sqlite_file_url(tmp_path)
    SqlStore(url, migrate_schema=True, background=False).close()
    engine = sa.create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    store = SqlStore(engine, background=False)
    try:
        with engine.connect(), pytest.raises(StorageUnavailable) as refused:
            put(store, lease(1))  # the one connection is held above
    finally:
        store.close()
        engine.dispose()
    assert str(refused.value).startswith("the database is busy: no free connection (")


def test_the_line_of_a_database_back_says_how_long_it_was_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = FlakyDatabase(sqlite_file_url(tmp_path))
    store = SqlStore(database.engine, migrate_schema=True, background=False)
    registry = Registry(store)
    try:
        caplog.set_level(logging.WARNING, logger="eureka_embed.storage.sql")
        database.down = True
        with pytest.raises(StorageUnavailable):
            registry.register(instance(1))
        database.down = False
        registry.register(instance(2))
    finally:
        store.close()
        database.dispose()
    back = caplog.records[-1].getMessage()
    assert re.fullmatch(r"SQL store: the database is reachable again after \d+\.\d s", back), back
