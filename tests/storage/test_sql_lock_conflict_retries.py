"""A write that meets a lock conflict is tried again, a bounded number of times, further apart
each time (storage/sql.py ``SqlStore._run``; found by mutation testing: the count and the
spacing of the retries could change without a test failing).

Over a SQLite file whose write lock another process holds, every attempt fails with "database
is locked" once the store's (here 1 ms) lock wait is over. The attempts are counted by the
engine's ``checkout`` event (each attempt takes a connection from the pool), as any owner of an
engine can.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from eureka_embed.errors import StorageUnavailable
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import SqlTimeouts
from tests.storage.test_sql_group_commit import database_locked, lease, put

#: A lock wait short enough that the retries' own spacing dominates the time between attempts,
#: and a client deadline (statement + 1 s) far longer than all the retries take.
TIMEOUTS = SqlTimeouts(connect=2, statement=9, lock=0.001)
#: The first try and 5 retries.
ATTEMPTS = 6
#: The pause before retry n is n * 10 ms.
PAUSES_S = [0.01 * n for n in range(1, ATTEMPTS)]


def test_a_write_meeting_a_held_lock_is_tried_six_times_further_apart_each_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "eureka.db"
    store = SqlStore(f"sqlite:///{path}", timeouts=TIMEOUTS, migrate_schema=True, background=False)
    begun: list[float] = []
    try:
        sa.event.listen(store.engine, "checkout", lambda *_: begun.append(time.monotonic()))
        with database_locked(path), pytest.raises(StorageUnavailable, match="database is locked"):
            put(store, lease(1))
        assert len(begun) == ATTEMPTS
        gaps = [later - earlier for earlier, later in itertools.pairwise(begun)]
        # Lower bounds only: a loaded machine makes each gap longer, never shorter.
        for n, (gap, pause) in enumerate(zip(gaps, PAUSES_S, strict=True), start=1):
            assert gap >= pause, f"retry {n} came {gap * 1000:.1f} ms after the last try"
        begun.clear()
        put(store, lease(1))  # once the lock is gone, one try is enough
        assert len(begun) == 1
    finally:
        store.close()


def test_no_retry_starts_once_the_client_deadline_has_passed(tmp_path: Path) -> None:
    # A lock wait of 0.6 s against a client deadline of about 1 s: a second try still starts
    # (0.6 s in), a third would start after the deadline. Each try lasts at least the lock wait,
    # so a loaded machine can only make fewer tries, never more.
    timeouts = SqlTimeouts(connect=2, statement=0.001, lock=0.6)
    path = tmp_path / "eureka.db"
    store = SqlStore(f"sqlite:///{path}", timeouts=timeouts, migrate_schema=True, background=False)
    tries: list[float] = []
    try:
        sa.event.listen(store.engine, "checkout", lambda *_: tries.append(time.monotonic()))
        with database_locked(path), pytest.raises(StorageUnavailable, match="database is locked"):
            put(store, lease(1))
    finally:
        store.close()
    assert 1 <= len(tries) <= 2
