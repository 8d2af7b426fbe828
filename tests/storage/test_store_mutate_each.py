"""``Store.mutate_each`` (thousands of writes at once; an eviction pass's removals go through
``remove_each``), on every store: each key's write applied atomically and in order, results in
the order of the keys, keys the function leaves alone untouched, a waiter woken once something
was logged, and writes of other threads still landing while a long batch runs (the memory store
takes its lock per slice)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from eureka_embed.model import ActionType
from eureka_embed.storage import LeaseRecord, Store, Write
from eureka_embed.storage.memory import MemoryStore
from tests.storage.test_store_contract import APP, WAKE_WITHIN_S, lease, put


def remove_odd(existing: LeaseRecord | None) -> tuple[Write | None, str | None]:
    if existing is None:
        return None, None
    n = int(existing.instance_id.removeprefix("host").split(":")[0])
    if n % 2 == 0:
        return None, None  # left alone
    gone = existing.instance.evolve(action_type=ActionType.DELETED)
    return Write(None, ActionType.DELETED, change_instance=gone, change_ms=2_000), gone.instance_id


def test_each_key_is_written_in_order_with_its_result(store: Store) -> None:
    for n in range(1, 7):
        put(store, lease(n))
    before = store.latest_sequence()
    keys = [(APP, f"host{n}:orders:8080") for n in (5, 2, 3, 9, 1)]
    results = store.mutate_each(keys, remove_odd)
    assert results == ["host5:orders:8080", None, "host3:orders:8080", None, "host1:orders:8080"]
    assert sorted(r.instance_id for r in store.snapshot().records) == [
        "host2:orders:8080",
        "host4:orders:8080",
        "host6:orders:8080",
    ]
    logged = store.changes_after(before)
    assert [(c.action, c.instance.instance_id) for c in logged] == [
        (ActionType.DELETED, "host5:orders:8080"),
        (ActionType.DELETED, "host3:orders:8080"),
        (ActionType.DELETED, "host1:orders:8080"),
    ]
    assert [c.sequence for c in logged] == [before + 1, before + 2, before + 3]
    assert store.count() == 3


def assert_wakes_a_waiter(store: Store, write: Callable[[], object]) -> None:
    """``write`` (one logged change of lease 1, put here) wakes a waiter at once."""
    put(store, lease(1))
    seen: list[int] = []
    after = store.latest_sequence()
    waiter = threading.Thread(target=lambda: seen.append(store.wait_for_change(after, 30)))
    waiter.start()
    write()
    waiter.join(WAKE_WITHIN_S)
    assert not waiter.is_alive()
    assert seen == [after + 1]


def test_a_batch_that_logs_something_wakes_a_waiter(store: Store) -> None:
    assert_wakes_a_waiter(
        store, lambda: store.mutate_each([(APP, "host1:orders:8080")], remove_odd)
    )


def test_a_batch_that_writes_nothing_moves_nothing(store: Store) -> None:
    put(store, lease(2))
    before = store.latest_sequence()
    keys = [(APP, "host2:orders:8080"), (APP, "host8:orders:8080")]
    assert store.mutate_each(keys, remove_odd) == [None, None]
    assert store.latest_sequence() == before
    assert store.count() == 1


class CountingLock:
    """The store's lock, counting the writes done in each hold of it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.holds: list[int] = []

    def __enter__(self) -> None:
        self._lock.acquire()
        self.holds.append(0)

    def __exit__(self, *_: object) -> None:
        self._lock.release()


def test_a_long_batch_lets_go_of_the_lock_between_slices() -> None:
    """A heartbeat (which takes the same lock) waits for one slice, not the whole pass."""
    store = MemoryStore()
    count = 2_000
    for n in range(1, 2 * count, 2):
        put(store, lease(n))
    lock = CountingLock()
    store._lock = lock  # type: ignore[assignment]

    def each(existing: LeaseRecord | None) -> tuple[Write | None, str | None]:
        lock.holds[-1] += 1
        return remove_odd(existing)

    keys = [(APP, f"host{n}:orders:8080") for n in range(1, 2 * count, 2)]
    assert all(store.mutate_each(keys, each))
    assert sum(lock.holds) == count
    assert len(lock.holds) >= 8
    assert max(lock.holds) <= 256
    assert store.count() == 0
