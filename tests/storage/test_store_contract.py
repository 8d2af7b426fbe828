"""The Store contract (``eureka_embed.storage.base``), checked against every store.

The behaviour suite (tests/registry) shows that the registry's rules hold over each store; this
suite holds each store to the promises the registry builds on: atomic writes applied once even
when retried, snapshots whose records are never older than their sequence, renewals that never
go back, pruning, outages reported as StorageUnavailable, and waiting for the next change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from eureka_embed.errors import StorageUnavailable
from eureka_embed.model import ActionType
from eureka_embed.storage import LeaseRecord, Store, Write
from eureka_embed.storage.sql import SqlStore
from tests.conftest import STORE_FACTORIES
from tests.databases import FlakyDatabase, server_database_url, sqlite_file_url
from tests.registry.helpers import instance
from tests.storage.test_sql_connection_loss import kill_other_connections

APP = "ORDERS"
SQL_STORES = [name for name in STORE_FACTORIES if name != "memory"]
#: Generous: the machine is shared, and a wake-up only has to come well before this.
WAKE_WITHIN_S = 10.0


def lease(n: int, *, renewed_ms: int = 1_000, **changes: Any) -> LeaseRecord:
    return LeaseRecord(instance(n, **changes), duration_ms=90_000, last_renewal_ms=renewed_ms)


def put(store: Store, record: LeaseRecord, *, at_ms: int = 1_000) -> None:
    """Write ``record`` and log it as ADDED at ``at_ms``."""

    def fn(_: LeaseRecord | None) -> tuple[Write, None]:
        return Write(record, ActionType.ADDED, change_ms=at_ms), None

    store.mutate(record.app, record.instance_id, fn)


def ids(records: object) -> set[str]:
    return {r.instance_id for r in records}  # type: ignore[attr-defined]


@pytest.fixture(params=SQL_STORES)
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    made = STORE_FACTORIES[request.param](tmp_path)
    assert isinstance(made, SqlStore)
    try:
        yield made
    finally:
        made.close()


# -- mutate: atomic, and applied once however often fn runs


def test_a_failing_fn_writes_nothing(store: Store) -> None:
    put(store, lease(1))
    before = store.latest_sequence()

    def fn(_: LeaseRecord | None) -> tuple[Write, None]:
        raise LookupError("the registry refused it")

    with pytest.raises(LookupError):
        store.mutate(APP, lease(2).instance_id, fn)
    assert store.latest_sequence() == before
    assert ids(store.snapshot().records) == {lease(1).instance_id}


def _retry_once_inside(store: Store) -> Callable[[], None]:
    """What, raised or done in fn's first call, makes this store run the unit again."""
    if not isinstance(store, SqlStore):
        return lambda: None  # one lock, no conflicts: fn runs once
    dbapi = store.engine.dialect.loaded_dbapi

    def conflict() -> None:
        # What the database raises when it picks this transaction as a deadlock victim.
        raise sa.exc.OperationalError("UPDATE ...", {}, dbapi.OperationalError("deadlock (test)"))

    return conflict


def test_a_retried_fn_leaves_exactly_the_last_calls_effect(store: Store) -> None:
    put(store, lease(1, metadata={"round": "0"}))
    before = store.latest_sequence()
    calls: list[LeaseRecord | None] = []
    interrupt = _retry_once_inside(store)

    def fn(current: LeaseRecord | None) -> tuple[Write, int]:
        calls.append(current)
        assert current is not None
        if len(calls) == 1:
            interrupt()
        changed = lease(1, metadata={"round": str(len(calls))})
        return Write(changed, ActionType.MODIFIED, change_ms=2_000), len(calls)

    result = store.mutate(APP, lease(1).instance_id, fn)

    assert result == len(calls)
    if isinstance(store, SqlStore):
        assert len(calls) == 2
    # Every call saw the record as it was before: a failed attempt left nothing behind.
    assert all(c is not None and c.instance.metadata == {"round": "0"} for c in calls)
    assert store.latest_sequence() == before + 1
    [change] = store.changes_after(before)
    assert change.instance.metadata == {"round": str(result)}
    record = store.get(APP, lease(1).instance_id)
    assert record is not None
    assert record.instance.metadata == {"round": str(result)}
    if isinstance(store, SqlStore):
        _assert_database_holds_one_change(store, before, result)


def _assert_database_holds_one_change(store: SqlStore, before: int, result: int) -> None:
    """What another node reading the same database finds."""
    other = SqlStore(store.engine, background=False)
    try:
        assert other.latest_sequence() == before + 1
        assert [c.sequence for c in other.changes_after(before)] == [before + 1]
        record = other.get(APP, lease(1).instance_id)
        assert record is not None
        assert record.instance.metadata == {"round": str(result)}
    finally:
        other.close()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_a_connection_killed_inside_fn_runs_it_again_and_applies_it_once(kind: str) -> None:
    url = server_database_url(kind)
    store = SqlStore(url, migrate_schema=True, background=False)
    try:
        put(store, lease(1))
        before = store.latest_sequence()
        calls = 0

        def fn(current: LeaseRecord | None) -> tuple[Write, int]:
            nonlocal calls
            calls += 1
            if calls == 1:
                # The transaction holding this row's lock loses its connection mid-way.
                assert kill_other_connections(url, kind) >= 1
            changed = lease(1, metadata={"call": str(calls)})
            return Write(changed, ActionType.MODIFIED, change_ms=2_000), calls

        assert store.mutate(APP, lease(1).instance_id, fn) == 2
        _assert_database_holds_one_change_for_call(store, before, 2)
    finally:
        store.close()


def _assert_database_holds_one_change_for_call(store: SqlStore, before: int, call: int) -> None:
    other = SqlStore(store.engine, background=False)
    try:
        [change] = other.changes_after(before)
        assert change.instance.metadata == {"call": str(call)}
        assert other.latest_sequence() == before + 1
    finally:
        other.close()


# -- snapshots


def test_a_snapshot_is_never_older_than_its_sequence(store: Store) -> None:
    """While a writer adds instances, every snapshot holds every change up to its sequence."""
    start = store.latest_sequence()
    writes = 100
    reading = threading.Event()
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            reading.wait(10)
            for n in range(writes):
                put(store, lease(n), at_ms=1_000 + n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    snapshots = []
    thread = threading.Thread(target=writer)
    thread.start()
    while True:
        finished = done.is_set()
        snapshots.append(store.snapshot_since(0))
        snapshots.append(store.snapshot())
        reading.set()
        if finished:
            break
        done.wait(0.0005)  # leave the writer the interpreter, and the store's lock
    thread.join(60)
    assert errors == []
    added_by = {c.sequence: c.instance.instance_id for c in store.changes_after(start)}
    assert len(added_by) == writes
    assert len(snapshots) > 2
    for snapshot in snapshots:
        expected = {added_by[s] for s in range(start + 1, snapshot.sequence + 1)}
        assert expected <= ids(snapshot.records), f"records older than {snapshot.sequence}"
        assert all(c.sequence <= snapshot.sequence for c in snapshot.changes)


def test_snapshot_since_gives_the_changes_of_the_window_and_the_records_they_made(
    store: Store,
) -> None:
    put(store, lease(1), at_ms=1_000)
    put(store, lease(2), at_ms=5_000)

    def cancel(current: LeaseRecord | None) -> tuple[Write, None]:
        return Write(None, ActionType.DELETED, change_ms=6_000), None

    store.mutate(APP, lease(1).instance_id, cancel)

    snapshot = store.snapshot_since(5_000)
    assert snapshot.sequence == store.latest_sequence()
    assert [(c.action, c.instance.instance_id) for c in snapshot.changes] == [
        (ActionType.ADDED, lease(2).instance_id),
        (ActionType.DELETED, lease(1).instance_id),
    ]
    assert ids(snapshot.records) == {lease(2).instance_id}
    assert store.snapshot().changes == ()


# -- renewals


def test_renewals_never_go_back(store: Store, tmp_path: Path) -> None:
    put(store, lease(1, renewed_ms=1_000))
    assert store.renew(APP, lease(1).instance_id, 9_000) is not None
    renewed = store.renew(APP, lease(1).instance_id, 4_000)  # late, from a slower path
    assert renewed is not None
    assert renewed.last_renewal_ms == 9_000
    assert store.renew(APP, lease(2).instance_id, 9_000) is None
    store.flush()
    if isinstance(store, SqlStore):
        other = SqlStore(store.engine, background=False)
        try:
            record = other.get(APP, lease(1).instance_id)
            assert record is not None
            assert record.last_renewal_ms == 9_000
        finally:
            other.close()


# -- the change log


def test_prune_changes_drops_and_counts_only_the_old_ones(store: Store) -> None:
    for n, at_ms in enumerate([1_000, 2_000, 3_000, 7_000, 8_000]):
        put(store, lease(n), at_ms=at_ms)
    latest = store.latest_sequence()

    assert store.prune_changes(before_ms=3_000) == 2
    assert store.prune_changes(before_ms=3_000) == 0
    assert [c.timestamp_ms for c in store.changes_since(0)] == [3_000, 7_000, 8_000]
    assert [c.timestamp_ms for c in store.changes_after(0)] == [3_000, 7_000, 8_000]
    assert store.latest_sequence() == latest  # pruning is not a change
    assert len(store.snapshot().records) == 5  # nor does it touch the records
    assert store.prune_changes(before_ms=10_000) == 3
    assert store.changes_since(0) == []


# -- outages


@pytest.fixture(params=["sqlite-file", "postgresql", "mariadb"])
def flaky(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FlakyDatabase]:
    url = sqlite_file_url(tmp_path) if request.param == "sqlite-file" else None
    database = FlakyDatabase(url or server_database_url(request.param))
    yield database
    database.dispose()


def test_a_backend_that_is_gone_is_storage_unavailable_and_nothing_is_written(
    flaky: FlakyDatabase,
) -> None:
    store = SqlStore(flaky.engine, migrate_schema=True, background=False)
    try:
        put(store, lease(1))
        store.renew(APP, lease(1).instance_id, 5_000)
        before = store.snapshot()
        flaky.down = True
        with pytest.raises(StorageUnavailable):
            put(store, lease(2))
        with pytest.raises(StorageUnavailable):
            store.flush()
        with pytest.raises(StorageUnavailable):
            store.sync()
        # Reads answer from memory, as they were.
        assert store.snapshot() == before
        assert store.changes_since(0) == store.snapshot_since(0).changes
        assert store.get(APP, lease(1).instance_id) is not None
        flaky.down = False
        store.sync()
        assert store.latest_sequence() == before.sequence
        assert store.get(APP, lease(2).instance_id) is None
    finally:
        flaky.down = False
        store.close()


# -- waiting for the next change


def wait_in_thread(store: Store, after: int, timeout: float) -> Callable[[], int | None]:
    """Start ``wait_for_change`` on a thread; the returned call joins it and gives its answer."""
    answer: list[int] = []
    thread = threading.Thread(target=lambda: answer.append(store.wait_for_change(after, timeout)))
    thread.start()

    def result() -> int | None:
        thread.join(WAKE_WITHIN_S)
        return answer[0] if answer else None  # None: still asleep after WAKE_WITHIN_S

    return result


def test_a_wait_past_a_sequence_already_there_returns_at_once(store: Store) -> None:
    put(store, lease(1))
    latest = store.latest_sequence()
    started = time.monotonic()
    assert store.wait_for_change(latest - 1, timeout=60) == latest
    assert time.monotonic() - started < WAKE_WITHIN_S


def test_a_wait_times_out_with_the_sequence_unchanged(store: Store) -> None:
    put(store, lease(1))
    latest = store.latest_sequence()
    store.renew(APP, lease(1).instance_id, 5_000)  # heartbeats are not changes
    started = time.monotonic()
    assert store.wait_for_change(latest, timeout=0.3) == latest
    assert time.monotonic() - started >= 0.25
    assert store.wait_for_change(latest, timeout=0) == latest
    assert store.wait_for_change(latest, timeout=-1) == latest


def test_a_write_from_another_thread_wakes_every_waiter(store: Store) -> None:
    latest = store.latest_sequence()
    waiters = [wait_in_thread(store, latest, timeout=60) for _ in range(20)]
    time.sleep(0.1)  # let them start waiting (a late starter returns at once anyway)
    started = time.monotonic()
    put(store, lease(1))
    # Waiters asleep by mistake would each take WAKE_WITHIN_S to join: check the first alone.
    assert waiters[0]() == latest + 1
    woken = [result() for result in waiters]
    assert woken == [latest + 1] * 20
    assert time.monotonic() - started < WAKE_WITHIN_S


def test_closing_the_store_ends_every_wait(store: Store) -> None:
    latest = store.latest_sequence()
    waiter = wait_in_thread(store, latest, timeout=60)
    time.sleep(0.1)
    started = time.monotonic()
    store.close()
    assert waiter() == latest
    assert store.wait_for_change(latest, timeout=60) == latest
    assert time.monotonic() - started < WAKE_WITHIN_S


def test_a_change_through_another_store_wakes_a_waiter_once_synced(sql_store: SqlStore) -> None:
    other = SqlStore(sql_store.engine, background=False)  # another node on the same database
    try:
        latest = sql_store.latest_sequence()
        waiter = wait_in_thread(sql_store, latest, timeout=60)
        put(other, lease(1))
        assert sql_store.wait_for_change(latest, timeout=0.2) == latest  # not synced yet
        sql_store.sync()
        assert waiter() == latest + 1
    finally:
        other.close()


def test_the_background_sync_wakes_a_waiter_on_another_nodes_change(
    sql_store: SqlStore,
) -> None:
    follower = SqlStore(sql_store.engine, background=True, sync_interval=0.05)
    try:
        latest = follower.latest_sequence()
        waiter = wait_in_thread(follower, latest, timeout=60)
        put(sql_store, lease(1))
        assert waiter() == latest + 1
        assert ids(follower.snapshot().records) == {lease(1).instance_id}
    finally:
        follower.close()
