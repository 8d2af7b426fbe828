"""A SQL node's own writes and renewals when the database fails around them, and what a write's
function sees of renewals (found by mutation testing: these went unchecked on SQLite).

- A write the database committed just before it went away is in this node's records, and, when
  no other node wrote in between, in its change log too; a write without a log entry still
  updates the record.
- A write's function sees the latest renewal of its lease: another node's flushed one and this
  node's unflushed one; a catch-up of another node's write keeps this node's unflushed renewal.
- While the database is "not answering", a flush and a prune from a request thread are refused at
  once like every write; a heartbeat that arrives during a flush that then fails is not set back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from eureka_embed.errors import StorageUnavailable
from eureka_embed.model import ActionType, InstanceStatus
from eureka_embed.storage import LeaseRecord, Write
from eureka_embed.storage.sql import SqlStore
from tests.databases import sqlite_file_url
from tests.registry.helpers import instance

REFUSED = sqlite3.OperationalError("connection refused")
TIMED_OUT = sqlite3.OperationalError("connection timed out")


def lease(n: int, renewed_ms: int = 1_000) -> LeaseRecord:
    return LeaseRecord(instance(n), duration_ms=90_000, last_renewal_ms=renewed_ms)


def stored(store: SqlStore, n: int) -> tuple[object, ...] | None:
    """What ``store`` holds for lease ``n`` (records compare by identity)."""
    record = store.get(lease(n).app, lease(n).instance_id)
    if record is None:
        return None
    return record.instance, record.duration_ms, record.last_renewal_ms, record.override


def fields(record: LeaseRecord) -> tuple[object, ...]:
    return record.instance, record.duration_ms, record.last_renewal_ms, record.override


def write(store: SqlStore, record: LeaseRecord, *, logged: bool = True) -> None:
    def fn(_: LeaseRecord | None) -> tuple[Write, None]:
        if not logged:
            return Write(record), None
        return Write(record, ActionType.ADDED, change_ms=2_000), None

    store.mutate(record.app, record.instance_id, fn)


def renewal_seen_by_a_write(store: SqlStore, record: LeaseRecord) -> int:
    """The last renewal the function of a write to ``record``'s lease is given."""
    seen: list[int] = []

    def fn(current: LeaseRecord | None) -> tuple[None, None]:
        assert current is not None
        seen.append(current.last_renewal_ms)
        return None, None

    store.mutate(record.app, record.instance_id, fn)
    return seen[0]


class SwitchableSqlite:
    """A SQLite file whose new connections fail with ``failure`` while it is set."""

    def __init__(self, path: Path) -> None:
        self.failure: Exception | None = None

        def connect() -> sqlite3.Connection:
            if self.failure is not None:
                raise self.failure
            return sqlite3.connect(path, check_same_thread=False)

        self.engine = sa.create_engine("sqlite://", creator=connect, poolclass=NullPool)

    def fail_after_next_commit(self, failure: Exception) -> None:
        """The database goes away just as it commits the next transaction (which stands)."""

        armed = [True]

        def gone(_conn: sa.Connection) -> None:
            if armed.pop() if armed else False:
                self.failure = failure

        sa.event.listen(self.engine, "commit", gone)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[SwitchableSqlite]:
    made = SwitchableSqlite(tmp_path / "eureka.db")
    yield made
    made.engine.dispose()


@pytest.fixture
def node(database: SwitchableSqlite) -> Iterator[SqlStore]:
    made = SqlStore(database.engine, migrate_schema=True, background=False)
    yield made
    database.failure = None
    made.close()


@pytest.fixture
def other_node(node: SqlStore, tmp_path: Path) -> Iterator[SqlStore]:
    """A second node on the same database file (the schema is the first node's)."""
    made = SqlStore(sqlite_file_url(tmp_path), background=False)
    yield made
    made.close()


def test_a_write_committed_just_before_an_outage_is_in_the_records_and_the_log(
    database: SwitchableSqlite, node: SqlStore
) -> None:
    database.fail_after_next_commit(REFUSED)
    write(node, lease(1))
    # Nothing else was written meanwhile: the node needs no read to show its own write.
    assert stored(node, 1) == fields(lease(1))
    assert node.latest_sequence() == 1
    assert [c.action for c in node.changes_after(0)] == [ActionType.ADDED]


def test_a_write_after_another_nodes_is_shown_at_once_even_if_the_catch_up_fails(
    database: SwitchableSqlite, node: SqlStore, other_node: SqlStore
) -> None:
    write(other_node, lease(2))
    database.fail_after_next_commit(REFUSED)
    write(node, lease(1))  # committed; catching up with the other node's write fails
    assert stored(node, 1) == fields(lease(1))
    database.failure = None
    node.sync()
    assert stored(node, 2) == fields(lease(2))
    assert [c.instance.instance_id for c in node.changes_after(0)] == [
        lease(2).instance_id,
        lease(1).instance_id,
    ]


def test_a_write_without_a_log_entry_updates_the_record(node: SqlStore) -> None:
    write(node, lease(1))
    renewed = lease(1, renewed_ms=5_000)
    write(node, renewed, logged=False)
    assert stored(node, 1) == fields(renewed)
    assert node.latest_sequence() == 1


def test_a_write_sees_another_nodes_flushed_renewal(node: SqlStore, other_node: SqlStore) -> None:
    write(node, lease(1))
    other_node.sync()
    other_node.renew(lease(1).app, lease(1).instance_id, 7_000)
    other_node.flush()
    # This node has not synced since: the write reads the renewal from the database.
    assert renewal_seen_by_a_write(node, lease(1)) == 7_000


def test_a_write_sees_this_nodes_flushed_and_unflushed_renewals(node: SqlStore) -> None:
    write(node, lease(1))
    node.renew(lease(1).app, lease(1).instance_id, 6_000)
    assert renewal_seen_by_a_write(node, lease(1)) == 6_000  # not flushed yet
    node.flush()
    assert renewal_seen_by_a_write(node, lease(1)) == 6_000


def test_catching_up_with_another_nodes_write_keeps_an_unflushed_renewal(
    node: SqlStore, other_node: SqlStore
) -> None:
    write(node, lease(1))
    other_node.sync()
    node.renew(lease(1).app, lease(1).instance_id, 9_000)  # held in memory, not flushed

    def take_down(current: LeaseRecord | None) -> tuple[Write, None]:
        assert current is not None
        down = LeaseRecord(
            current.instance.evolve(status=InstanceStatus.DOWN),
            current.duration_ms,
            current.last_renewal_ms,
        )
        return Write(down, ActionType.MODIFIED, change_ms=3_000), None

    other_node.mutate(lease(1).app, lease(1).instance_id, take_down)
    node.sync()
    record = node.get(lease(1).app, lease(1).instance_id)
    assert record is not None
    assert record.instance.status is InstanceStatus.DOWN
    assert record.last_renewal_ms == 9_000


def open_breaker(database: SwitchableSqlite, node: SqlStore) -> None:
    """A write runs into a time-out; the database answers again, but no read has seen it yet."""
    database.failure = TIMED_OUT
    with pytest.raises(StorageUnavailable):
        write(node, lease(3))
    database.failure = None


def test_a_flush_from_a_request_thread_is_refused_while_the_database_is_not_answering(
    database: SwitchableSqlite, node: SqlStore, other_node: SqlStore
) -> None:
    write(node, lease(1))
    node.renew(lease(1).app, lease(1).instance_id, 8_000)
    open_breaker(database, node)
    with pytest.raises(StorageUnavailable) as caught:
        node.flush()
    assert caught.value.reason.endswith("writes are refused until it answers again (retry later)")
    node.sync()  # reaches the database: the breaker closes
    node.flush()  # the refused renewal was kept
    other_node.sync()
    record = other_node.get(lease(1).app, lease(1).instance_id)
    assert record is not None
    assert record.last_renewal_ms == 8_000


def test_a_prune_from_a_request_thread_is_refused_while_the_database_is_not_answering(
    database: SwitchableSqlite, node: SqlStore
) -> None:
    write(node, lease(1))
    open_breaker(database, node)
    with pytest.raises(StorageUnavailable):
        node.prune_changes(10_000)
    node.sync()
    node.prune_changes(10_000)
    assert node.changes_after(0) == []


def test_a_heartbeat_during_a_failing_flush_is_not_set_back(
    node: SqlStore, other_node: SqlStore
) -> None:
    write(node, lease(1))
    node.renew(lease(1).app, lease(1).instance_id, 5_000)

    def heartbeat_then_fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE eureka_renewals"):
            node.renew(lease(1).app, lease(1).instance_id, 9_000)
            raise sqlite3.OperationalError("disk I/O error")

    listen: Callable[..., None] = sa.event.listen
    listen(node.engine, "before_cursor_execute", heartbeat_then_fail)
    with pytest.raises(StorageUnavailable):
        node.flush()
    sa.event.remove(node.engine, "before_cursor_execute", heartbeat_then_fail)
    node.flush()
    other_node.sync()
    record = other_node.get(lease(1).app, lease(1).instance_id)
    assert record is not None
    assert record.last_renewal_ms == 9_000
