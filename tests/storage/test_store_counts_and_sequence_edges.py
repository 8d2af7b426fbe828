"""Store edges the contract suite did not pin (found by mutation testing): how many leases a store
says it holds as they come, get replaced and go; where the sequence starts; a change logged at
exactly the asked-for time; a change that names no instance; a node catching up past an instance
that came and went between two of its syncs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eureka_embed.model import ActionType
from eureka_embed.storage import LeaseRecord, Store, Write
from eureka_embed.storage.sql import SqlStore
from tests.databases import sqlite_file_url
from tests.registry.helpers import instance

APP = "ORDERS"


def lease(n: int, **changes: Any) -> LeaseRecord:
    return LeaseRecord(instance(n, **changes), duration_ms=90_000, last_renewal_ms=1_000)


def put(store: Store, record: LeaseRecord, *, at_ms: int = 1_000) -> None:
    def fn(_: LeaseRecord | None) -> tuple[Write, None]:
        return Write(record, ActionType.ADDED, change_ms=at_ms), None

    store.mutate(record.app, record.instance_id, fn)


def remove(store: Store, n: int, *, at_ms: int = 2_000) -> None:
    def fn(_: LeaseRecord | None) -> tuple[Write, None]:
        return Write(None, ActionType.DELETED, change_ms=at_ms), None

    store.mutate(APP, lease(n).instance_id, fn)


def held(store: Store) -> set[str]:
    return {record.instance_id for record in store.records_of(APP)}


def test_the_count_follows_leases_as_they_come_are_replaced_and_go(store: Store) -> None:
    put(store, lease(1))
    put(store, lease(1, ldt=200))  # a re-registration replaces, it does not add
    assert store.count() == 1
    put(store, lease(2))
    assert (store.count(), held(store)) == (2, {lease(1).instance_id, lease(2).instance_id})
    remove(store, 1)
    assert (store.count(), held(store)) == (1, {lease(2).instance_id})
    remove(store, 2)
    assert (store.count(), held(store)) == (0, set())
    put(store, lease(3))  # the emptied application comes back
    assert (store.count(), held(store)) == (1, {lease(3).instance_id})


def test_a_new_store_has_no_change_to_wake_a_waiter_for(store: Store) -> None:
    assert store.latest_sequence() == 0
    assert store.wait_for_change(0, timeout=0.05) == 0
    put(store, lease(1))
    assert [change.sequence for change in store.changes_after(0)] == [1]


def test_a_change_logged_at_exactly_the_asked_for_time_is_included(store: Store) -> None:
    put(store, lease(1), at_ms=5_000)
    assert [c.instance.instance_id for c in store.changes_since(5_000)] == [lease(1).instance_id]
    assert store.changes_since(5_001) == []


def test_a_change_that_names_no_instance_is_refused_and_not_logged(store: Store) -> None:
    def fn(_: LeaseRecord | None) -> tuple[Write, None]:
        return Write(None, ActionType.DELETED, change_ms=1_000), None

    with pytest.raises(ValueError) as caught:
        store.mutate(APP, lease(1).instance_id, fn)
    assert str(caught.value) == "a change needs an instance to log"
    assert store.latest_sequence() == 0


def test_a_node_catches_up_past_an_instance_that_came_and_went_meanwhile(tmp_path: Path) -> None:
    url = sqlite_file_url(tmp_path)
    writer = SqlStore(url, migrate_schema=True, background=False)
    reader = SqlStore(url, background=False)
    try:
        put(writer, lease(1))
        reader.sync()
        put(writer, lease(2))
        remove(writer, 2)
        reader.sync()
        assert (reader.count(), held(reader)) == (1, {lease(1).instance_id})
        assert reader.latest_sequence() == writer.latest_sequence()
    finally:
        reader.close()
        writer.close()
