"""``sqlite:///`` (an empty path) is SQLite's in-memory database, as ``sqlite://`` is: the store
must share one connection between threads there too, or a write from another thread finds a
fresh, empty database without the store's tables (found by mutation testing)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from eureka_embed.storage.sql import SqlStore
from tests.storage.test_sql_group_commit import lease, put


def test_an_empty_sqlite_path_is_one_in_memory_database_for_every_thread() -> None:
    store = SqlStore("sqlite:///", migrate_schema=True, background=False)
    try:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(put, store, lease(1)).result(timeout=30)
        assert store.latest_sequence() == 1
        assert [r.instance_id for r in store.snapshot().records] == [lease(1).instance_id]
    finally:
        store.close()
