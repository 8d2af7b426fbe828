"""Watch indexes and wake-ups over every store, and across nodes sharing one database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.http.watches import Watches, WatchRequest
from eureka_embed.model import ActionType
from eureka_embed.registry import Registry
from eureka_embed.storage import Store
from eureka_embed.storage.base import Change, LeaseRecord
from eureka_embed.storage.sql import SqlStore
from eureka_embed.storage.view_index import ALL, ViewIndexes, app_view, vip_view
from tests.conftest import STORE_FACTORIES
from tests.registry.helpers import instance

SQL_STORES = [name for name in STORE_FACTORIES if name != "memory"]
WAKE_WITHIN_S = 10.0


@pytest.fixture
def registry(store: Store) -> Registry:
    return Registry(store, RegistryConfig(self_preservation=False), ManualClock())


def views(store: Store) -> tuple[int, int, int]:
    return (
        store.view_index(ALL),
        store.view_index(app_view("orders")),
        store.view_index(vip_view("Orders-VIP ")),
    )


def test_the_index_of_each_view_moves_with_its_changes_only(
    store: Store, registry: Registry
) -> None:
    first = views(store)
    assert min(first) >= 1

    registry.register(instance(1, vip_address="orders-vip"))
    registered = views(store)
    assert all(after > before for after, before in zip(registered, first, strict=True))

    assert registry.renew("ORDERS", instance(1).instance_id).outcome.name == "OK"
    assert views(store) == registered  # a heartbeat moves nothing

    registry.register(instance(1, "BILLING"))
    other = views(store)
    assert other[0] > registered[0]
    assert other[1:] == registered[1:]

    registry.cancel("ORDERS", instance(1).instance_id)
    cancelled = views(store)
    assert all(after > before for after, before in zip(cancelled, other, strict=True))


def test_a_blocking_watch_wakes_on_the_stores_own_write(store: Store, registry: Registry) -> None:
    watches = Watches(store)
    view = app_view("ORDERS")
    woke = threading.Event()
    watch = WatchRequest(view, watches.index(view), 30.0)

    def watcher() -> None:
        watches.wait(watch)
        woke.set()

    thread = threading.Thread(target=watcher)
    try:
        thread.start()
        deadline = time.monotonic() + WAKE_WITHIN_S
        while watches.waiting < 1:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        assert not woke.wait(0.1)

        registry.register(instance(1))

        assert woke.wait(WAKE_WITHIN_S)
        assert watches.index(view) > watch.after_index
    finally:
        watches.close()
        thread.join(WAKE_WITHIN_S)


@pytest.fixture(params=SQL_STORES)
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    made = STORE_FACTORIES[request.param](tmp_path)
    assert isinstance(made, SqlStore)
    try:
        yield made
    finally:
        made.close()


def test_a_watch_on_one_node_wakes_on_a_write_through_another(sql_store: SqlStore) -> None:
    # Another node on the same database, catching up every 0.5 s as a served node does.
    follower = SqlStore(sql_store.engine, background=True)
    watches = Watches(follower)
    writer = Registry(sql_store)
    view = app_view("ORDERS")
    watch = WatchRequest(view, watches.index(view), 30.0)
    done = threading.Event()

    def watcher() -> None:
        watches.wait(watch)
        done.set()

    thread = threading.Thread(target=watcher)
    try:
        thread.start()
        writer.register(instance(1, "BILLING"))  # another application: no wake-up
        writer.register(instance(1))

        assert done.wait(WAKE_WITHIN_S)
        assert follower.get("ORDERS", instance(1).instance_id) is not None
        # Both nodes follow the one log: the whole registry's index agrees between them.
        assert watches.index(ALL) == sql_store.view_index(ALL)
        assert watches.index(view) == sql_store.view_index(view)
    finally:
        watches.close()
        thread.join(WAKE_WITHIN_S)
        follower.close()


def test_a_node_following_the_database_answers_the_changes_after_an_index(
    sql_store: SqlStore,
) -> None:
    # The follower's indexes come from the changes it synced: they map back to the same
    # changes the writer logged, so a client following the follower gets only what is new.
    follower = SqlStore(sql_store.engine, background=False)
    writer = Registry(sql_store)
    try:
        writer.register(instance(1))
        follower.sync()
        index = follower.view_index(ALL)
        writer.register(instance(2))
        writer.cancel("ORDERS", instance(1).instance_id)
        follower.sync()

        snapshot = follower.delta_after_index(index)

        assert snapshot is not None
        assert [(c.action, c.instance.instance_id) for c in snapshot.changes] == [
            (ActionType.ADDED, instance(2).instance_id),
            (ActionType.DELETED, instance(1).instance_id),
        ]
        assert snapshot.apps_hashcode == "UP_1_"
    finally:
        follower.close()


def test_a_node_that_reloads_keeps_its_indexes_moving_forwards(sql_store: SqlStore) -> None:
    writer = Registry(sql_store)
    writer.register(instance(1))
    before = views(sql_store)

    grouped = sql_store.applications()
    # What a node does after missing pruned changes: read everything afresh.
    sql_store._reload()

    assert all(after >= b for after, b in zip(views(sql_store), before, strict=True))
    # Regrouped from the reloaded records, not kept from before.
    assert sql_store.applications() == grouped == Store.applications(sql_store)
    assert (
        sql_store.applications().applications[0].instances[0]
        is not (grouped.applications[0].instances[0])
    )


def _change(sequence: int, app: str = "ORDERS") -> Change:
    return Change(sequence, 1_000, ActionType.ADDED, instance(sequence, app))


def test_view_indexes_never_go_backwards_when_the_store_does() -> None:
    indexes = ViewIndexes()
    for sequence in range(1, 6):
        indexes.record(_change(sequence))
    shown = indexes.index(ALL), indexes.index(app_view("ORDERS"))

    # The database was replaced by one at an earlier sequence.
    record = LeaseRecord(instance(1, vip_address="alpha"), duration_ms=90_000, last_renewal_ms=0)
    indexes.reset(2, [record])

    assert indexes.index(ALL) > shown[0]
    assert indexes.index(app_view("ORDERS")) > shown[1]
    alpha = indexes.index(vip_view("alpha"))
    # The instance known from the reset leaves its VIP: the VIP it left moves.
    indexes.record(Change(3, 1_000, ActionType.MODIFIED, instance(1, vip_address="beta")))
    assert indexes.index(vip_view("alpha")) > alpha
    assert indexes.index(ALL) > shown[0] + 1
