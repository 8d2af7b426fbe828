"""What one SQL node sees of another's work through the database, and how its background sync
reports trouble (found by mutation testing: these went unchecked on SQLite).

A node opened later reads the log with each change's action; a prune on one node is a prune of
the database; a renewal another node flushed is picked up by a sync and by the background thread;
the background thread logs one warning per streak of database errors, and a crash in it is logged
with its traceback instead of killing it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from eureka_embed.model import ActionType
from eureka_embed.storage import LeaseRecord, Write
from eureka_embed.storage.sql import SqlStore
from tests.databases import sqlite_file_url
from tests.registry.helpers import instance

#: Generous: the machine is shared; each wait ends as soon as its condition holds.
WITHIN_S = 15.0


def lease(n: int) -> LeaseRecord:
    return LeaseRecord(instance(n), duration_ms=90_000, last_renewal_ms=1_000)


def write(store: SqlStore, record: LeaseRecord, action: ActionType, at_ms: int) -> None:
    kept = None if action is ActionType.DELETED else record

    def fn(_: LeaseRecord | None) -> tuple[Write, None]:
        return Write(kept, action, change_instance=record.instance, change_ms=at_ms), None

    store.mutate(record.app, record.instance_id, fn)


def eventually(condition: Callable[[], bool]) -> None:
    ends = time.monotonic() + WITHIN_S
    while not condition():
        assert time.monotonic() < ends, "the background sync did not get there in time"
        time.sleep(0.01)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return sqlite_file_url(tmp_path)


@pytest.fixture
def writer(url: str) -> Iterator[SqlStore]:
    made = SqlStore(url, migrate_schema=True, background=False)
    yield made
    made.close()


def test_a_node_opened_later_reads_each_change_with_its_action(url: str, writer: SqlStore) -> None:
    write(writer, lease(1), ActionType.ADDED, 1_000)
    write(writer, lease(1), ActionType.MODIFIED, 2_000)
    write(writer, lease(1), ActionType.DELETED, 3_000)
    reader = SqlStore(url, background=False)
    try:
        actions = [change.action for change in reader.changes_after(0)]
    finally:
        reader.close()
    assert actions == [ActionType.ADDED, ActionType.MODIFIED, ActionType.DELETED]


def test_a_prune_on_one_node_prunes_the_database(url: str, writer: SqlStore) -> None:
    for n, at_ms in ((1, 1_000), (2, 2_000), (3, 3_000)):
        write(writer, lease(n), ActionType.ADDED, at_ms)
    writer.prune_changes(2_000)  # before 2 s: the change at exactly 2 s stays
    reader = SqlStore(url, background=False)
    try:
        kept = [change.timestamp_ms for change in reader.changes_after(0)]
    finally:
        reader.close()
    assert kept == [2_000, 3_000]


def test_a_sync_picks_up_a_renewal_another_node_flushed(url: str, writer: SqlStore) -> None:
    write(writer, lease(1), ActionType.ADDED, 1_000)
    reader = SqlStore(url, background=False)
    try:
        # Only seconds newer than the newest renewal the reader knows (1 s): still seen.
        writer.renew(lease(1).app, lease(1).instance_id, 3_000)
        writer.flush()
        reader.sync()
        renewed = reader.get(lease(1).app, lease(1).instance_id)
        assert renewed is not None
        assert renewed.last_renewal_ms == 3_000
    finally:
        reader.close()


def test_the_background_thread_picks_up_another_nodes_renewal(
    url: str, writer: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    write(writer, lease(1), ActionType.ADDED, 1_000)
    reader = SqlStore(url, sync_interval=0.05)
    try:
        writer.renew(lease(1).app, lease(1).instance_id, 9_000)
        writer.flush()

        def renewed() -> bool:
            record = reader.get(lease(1).app, lease(1).instance_id)
            return record is not None and record.last_renewal_ms == 9_000

        eventually(renewed)
    finally:
        reader.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


class CountingSqlite:
    """A SQLite file whose connections fail with ``failure`` while set; counts every attempt."""

    def __init__(self, path: Path) -> None:
        self.failure: BaseException | None = None
        self.attempts = 0

        def connect() -> sqlite3.Connection:
            self.attempts += 1
            if self.failure is not None:
                raise self.failure
            return sqlite3.connect(path, check_same_thread=False)

        self.engine = sa.create_engine("sqlite://", creator=connect, poolclass=NullPool)

    def fail_for_a_few_ticks(self, failure: BaseException | None) -> None:
        self.failure = failure
        seen = self.attempts
        eventually(lambda: self.attempts >= seen + 5)


def test_the_background_thread_logs_one_warning_per_streak_of_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="eureka_embed.storage.sql")
    database = CountingSqlite(tmp_path / "eureka.db")
    store = SqlStore(database.engine, migrate_schema=True, sync_interval=0.01)
    try:
        refused = sqlite3.DatabaseError("file is not a database")
        database.fail_for_a_few_ticks(refused)
        database.fail_for_a_few_ticks(None)
        database.fail_for_a_few_ticks(refused)
        database.fail_for_a_few_ticks(None)
        database.fail_for_a_few_ticks(RuntimeError("a bug in the sync"))
    finally:
        store.close()
        database.engine.dispose()
    lines = [(r.getMessage(), r.exc_info is not None) for r in caplog.records]
    warning = (
        "SQL store background sync failed (will retry): "
        "the database refused the operation: file is not a database"
    )
    # One warning per streak of errors, however many ticks it lasted.
    assert lines[:2] == [(warning, False), (warning, False)]
    assert lines.count((warning, False)) == 2
    crash = lines[2:]
    assert crash and set(crash) == {("SQL store background sync failed", True)}
