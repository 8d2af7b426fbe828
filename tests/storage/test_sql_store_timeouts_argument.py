"""``SqlStore(url, timeouts=...)`` gives its time-outs to the engine it makes, not only to its
own bookkeeping: over a SQLite file locked by another process, a write gives up after the
given lock time-out, not SQLite's default wait (found by mutation testing)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from eureka_embed.errors import StorageUnavailable
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import SqlTimeouts
from tests.storage.test_sql_group_commit import database_locked, lease, put

GIVEN = SqlTimeouts(connect=2, statement=1, lock=0.3)


def test_a_write_to_a_locked_file_gives_up_after_the_lock_time_out_given(tmp_path: Path) -> None:
    path = tmp_path / "eureka.db"
    store = SqlStore(f"sqlite:///{path}", timeouts=GIVEN, migrate_schema=True, background=False)
    try:
        with database_locked(path):
            started = time.monotonic()
            with pytest.raises(StorageUnavailable):
                put(store, lease(1))
            waited = time.monotonic() - started
    finally:
        store.close()
    # Retries stay within the client deadline (statement + 1 s); the default lock wait is 5 s.
    assert waited < GIVEN.client_deadline + 1.0
