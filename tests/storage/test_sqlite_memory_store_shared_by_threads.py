"""An in-memory SQLite store (``sqlite://``) is one connection shared by every thread: writers
and readers of one process must take turns on it, or one thread's statements land inside
another's transaction ("cannot start a transaction within a transaction"; found by mutation
testing of the store's database lock)."""

from __future__ import annotations

import threading

from eureka_embed.storage.sql import SqlStore
from tests.storage.test_sql_group_commit import lease, put

WRITERS = 3
WRITES = 100
READERS = 2


def test_concurrent_writes_and_syncs_on_an_in_memory_store_all_succeed() -> None:
    store = SqlStore("sqlite://", migrate_schema=True, background=False)
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def write(k: int) -> None:
        try:
            for n in range(WRITES):
                put(store, lease(k * WRITES + n))
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            while writing.is_set():
                store.sync()
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(k,)) for k in range(WRITERS)]
    readers = [threading.Thread(target=read) for _ in range(READERS)]
    try:
        for thread in (*readers, *writers):
            thread.start()
        for thread in writers:
            thread.join(60)
        writing.clear()
        for thread in readers:
            thread.join(60)
        assert errors == []
        assert len(store.snapshot().records) == WRITERS * WRITES
    finally:
        writing.clear()
        store.close()
