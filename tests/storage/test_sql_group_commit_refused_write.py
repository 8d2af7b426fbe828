"""Group commit over SQLite: a write that the database itself refuses (a constraint of the
operator's, here a trigger) fails alone, with the database's reason, and the writes queued in
the same batch are stored; a write failed with its whole batch keeps the driver's error as its
cause, for the traceback in the log (found by mutation testing: the first branch of
``_write_batch`` ran in no test, the cause was never looked at)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from eureka_embed.errors import StorageError, StorageUnavailable
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_engine import SqlTimeouts
from tests.storage.test_sql_group_commit import (
    WRITERS,
    database_locked,
    lease,
    put,
    queued,
    run_all,
)

REFUSED = 3


def test_a_write_the_database_refuses_fails_alone_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "eureka.db"
    store = SqlStore(f"sqlite:///{path}", migrate_schema=True, background=False)
    try:
        with sqlite3.connect(path) as conn:
            conn.execute(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON eureka_leases"
                f" WHEN NEW.instance_id = '{lease(REFUSED).instance_id}'"
                " BEGIN SELECT RAISE(ABORT, 'no such host here'); END"
            )
        with database_locked(path):  # the writers queue up and share one batch
            box: list[dict[int, BaseException]] = []
            runner = threading.Thread(
                target=lambda: box.append(run_all(lambda n: put(store, lease(n)), WRITERS))
            )
            runner.start()
            queued(store, WRITERS - 1)
        runner.join(30)
        [errors] = box
        assert list(errors) == [REFUSED]
        refused = errors[REFUSED]
        assert type(refused) is StorageError  # not "unavailable": the database answered
        assert not isinstance(refused, StorageUnavailable)
        assert str(refused) == "the database refused the operation: no such host here"
        stored = {r.instance_id for r in store.snapshot().records}
        assert stored == {lease(n).instance_id for n in range(WRITERS) if n != REFUSED}
        put(store, lease(WRITERS))  # the store still takes writes at once
        assert store.count() == WRITERS
    finally:
        store.close()


def test_a_write_failed_with_its_batch_keeps_the_drivers_error_as_its_cause(
    tmp_path: Path,
) -> None:
    path = tmp_path / "eureka.db"
    timeouts = SqlTimeouts(connect=2, statement=1, lock=0.05)
    store = SqlStore(f"sqlite:///{path}", timeouts=timeouts, migrate_schema=True, background=False)
    try:
        with database_locked(path), pytest.raises(StorageUnavailable) as failed:
            put(store, lease(1))
    finally:
        store.close()
    cause = failed.value.__cause__
    assert isinstance(cause, sa.exc.OperationalError)
    assert str(cause.orig) == "database is locked"
