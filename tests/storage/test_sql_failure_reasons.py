"""What a failing database write tells the caller and the log, for each way a database fails.

The outage suites provoke these with real PostgreSQL/MariaDB servers; here a SQLite engine whose
connections fail with a chosen driver error shows the classification itself (found by mutation
testing: the reasons, the one-line log and the breaker's state went unchecked on SQLite):
a time-out stops writes at once until the database answers again, a refused connection and a
busy database are 503s with the driver's first line, any other database error is a plain
StorageError, and the outage is logged once, with its reason, and once when it is over.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from eureka_embed.errors import StorageError, StorageUnavailable
from eureka_embed.model import ActionType
from eureka_embed.storage import LeaseRecord, Write
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.sql_health import DatabaseHealth
from tests.registry.helpers import instance

RECORD = LeaseRecord(instance(1), duration_ms=90_000, last_renewal_ms=1_000)


class SwitchableSqlite:
    """A SQLite file whose new connections fail with ``failure`` while it is set."""

    def __init__(self, path: Path) -> None:
        self.failure: Exception | None = None

        def connect() -> sqlite3.Connection:
            if self.failure is not None:
                raise self.failure
            return sqlite3.connect(path, check_same_thread=False)

        self.engine = sa.create_engine("sqlite://", creator=connect, poolclass=NullPool)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[SwitchableSqlite]:
    made = SwitchableSqlite(tmp_path / "eureka.db")
    yield made
    made.engine.dispose()


@pytest.fixture
def store(database: SwitchableSqlite) -> Iterator[SqlStore]:
    made = SqlStore(database.engine, migrate_schema=True, background=False)
    yield made
    made.close()


def register(store: SqlStore) -> None:
    def fn(_: LeaseRecord | None) -> tuple[Write, None]:
        return Write(RECORD, ActionType.ADDED, change_ms=1_000), None

    store.mutate(RECORD.app, RECORD.instance_id, fn)


def failing_write(store: SqlStore, kind: type[StorageError] = StorageUnavailable) -> str:
    with pytest.raises(kind) as caught:
        register(store)
    assert type(caught.value) is kind
    return caught.value.reason


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "eureka_embed.storage.sql"]


def test_a_time_out_refuses_writes_at_once_until_the_database_answers(
    database: SwitchableSqlite, store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    deadline = f"{store._timeouts.client_deadline:g}"
    database.failure = sqlite3.OperationalError("connection timed out\nhint: check the proxy")
    reason = failing_write(store)
    assert reason == f"the database did not answer within {deadline} s (connection timed out)"
    database.failure = None
    # Not answering: the next write does not even try (it would wait out a time-out too).
    assert (
        failing_write(store) == f"{reason}; writes are refused until it answers again (retry later)"
    )
    assert store.get(RECORD.app, RECORD.instance_id) is None
    store.sync()  # a sync may try, and closes the breaker
    register(store)
    assert store.get(RECORD.app, RECORD.instance_id) is not None
    assert outage_lines(caplog)[0] == (
        f"SQL store: the database is unreachable ({reason}); writes answer 503 until it is back, "
        "reads and heartbeats go on from memory"
    )
    assert outage_lines(caplog)[1].startswith("SQL store: the database is reachable again after ")
    assert len(outage_lines(caplog)) == 2


def test_a_refused_connection_is_a_503_with_the_drivers_first_line(
    database: SwitchableSqlite, store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    database.failure = sqlite3.OperationalError("connection refused\nis the server running?")
    assert failing_write(store) == "the database cannot be reached: connection refused"
    database.failure = sqlite3.OperationalError("")
    # The driver said nothing: its error's name stands in.
    assert failing_write(store) == "the database cannot be reached: OperationalError"
    database.failure = None
    register(store)  # a refused connection does not stop the next write from trying
    lines = outage_lines(caplog)
    assert len(lines) == 2  # down once (not once per failure), back once
    assert lines[0].startswith(
        "SQL store: the database is unreachable (the database cannot be reached: connection "
        "refused); "
    )


def test_a_busy_database_is_a_503_that_leaves_writes_open(
    database: SwitchableSqlite, store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    database.failure = sqlite3.OperationalError("canceling statement due to statement timeout")
    assert failing_write(store) == (
        "the database is busy: canceling statement due to statement timeout"
    )
    database.failure = None
    register(store)
    assert outage_lines(caplog) == []  # alive but busy is no outage


def test_any_other_database_error_is_a_plain_storage_error(
    database: SwitchableSqlite, store: SqlStore
) -> None:
    database.failure = sqlite3.DatabaseError("file is not a database")
    reason = failing_write(store, StorageError)
    assert reason == "the database refused the operation: file is not a database"


def test_a_time_out_keeps_writes_refused_through_later_refused_connections() -> None:
    health = DatabaseHealth(logging.getLogger("test"))
    health.failed("the database did not answer", not_answering=True)
    health.failed("the database cannot be reached: refused", not_answering=False)
    with pytest.raises(StorageUnavailable) as caught:
        health.admit(may_probe=False)
    # The latest reason is the one given.
    assert caught.value.reason.startswith("the database cannot be reached: refused; ")
    health.admit(may_probe=True)  # reads and the background thread still try
    health.succeeded()
    health.admit(may_probe=False)
