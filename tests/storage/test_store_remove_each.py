"""``Store.remove_each`` (the removals of an eviction pass, and of a cancel), on every store:
the records the function names an instance for are removed and logged as DELETED with that
instance, in key order; absent keys and kept records are left alone; a removal made before the
function raised stays logged. The memory store's own path (a slice per hold of its lock, no
``Write`` per record) gives exactly what the default path through ``mutate_each`` gives: the
same log, records, hashcode, expiry candidates and watch indexes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eureka_embed.model import ActionType, InstanceInfo, InstanceStatus, apps_hashcode
from eureka_embed.storage import LeaseRecord, Store
from eureka_embed.storage.memory import MemoryStore
from eureka_embed.storage.view_index import ALL, app_view, vip_view
from tests.storage.test_store_contract import APP, lease, put
from tests.storage.test_store_mutate_each import CountingLock, assert_wakes_a_waiter


def deleted_unless_even(existing: LeaseRecord) -> InstanceInfo | None:
    n = int(existing.instance_id.removeprefix("host").split(":")[0])
    if n % 2 == 0:
        return None  # kept
    return existing.instance.evolve(action_type=ActionType.DELETED, last_updated_timestamp=n)


def key(n: int) -> tuple[str, str]:
    return (APP, f"host{n}:orders:8080")


def test_each_named_record_is_removed_and_logged_in_key_order(store: Store) -> None:
    for n in range(1, 7):
        put(store, lease(n))
    before = store.latest_sequence()
    keys = [key(n) for n in (5, 2, 3, 9, 1, 5)]  # 9 is absent; 5 twice, gone the second time
    removed = store.remove_each(keys, deleted_unless_even, 2_000)
    assert [(i.instance_id, i.action_type) for i in removed] == [
        (f"host{n}:orders:8080", ActionType.DELETED) for n in (5, 3, 1)
    ]
    assert sorted(r.instance_id for r in store.snapshot().records) == [
        f"host{n}:orders:8080" for n in (2, 4, 6)
    ]
    logged = store.changes_after(before)
    assert [(c.sequence, c.timestamp_ms, c.action) for c in logged] == [
        (before + n, 2_000, ActionType.DELETED) for n in (1, 2, 3)
    ]
    assert [c.instance for c in logged] == removed
    assert store.count() == 3
    assert store.apps_hashcode() == "UP_3_"
    assert sorted(r.instance_id for r in store.expired(10**9).records) == [
        f"host{n}:orders:8080" for n in (2, 4, 6)
    ]


def test_nothing_removed_moves_nothing(store: Store) -> None:
    put(store, lease(2))
    before = store.latest_sequence()
    assert store.remove_each([key(2), key(8)], deleted_unless_even, 2_000) == []
    assert store.latest_sequence() == before
    assert store.count() == 1


def test_a_removal_wakes_a_waiter(store: Store) -> None:
    assert_wakes_a_waiter(store, lambda: store.remove_each([key(1)], deleted_unless_even, 2_000))


class Refused(Exception):
    pass


def test_what_was_removed_before_the_function_raised_stays_logged(store: Store) -> None:
    for n in (1, 3, 5):
        put(store, lease(n))
    before = store.latest_sequence()

    def refuses_five(existing: LeaseRecord) -> InstanceInfo | None:
        if existing.instance_id.startswith("host5"):
            raise Refused
        return deleted_unless_even(existing)

    with pytest.raises(Refused):
        store.remove_each([key(1), key(3), key(5)], refuses_five, 2_000)
    assert [c.instance.instance_id for c in store.changes_after(before)] == [
        "host1:orders:8080",
        "host3:orders:8080",
    ]
    assert [r.instance_id for r in store.snapshot().records] == ["host5:orders:8080"]
    assert store.count() == 1
    assert store.apps_hashcode() == "UP_1_"


def test_a_long_pass_lets_go_of_the_lock_between_slices() -> None:
    """A heartbeat (which takes the same lock) waits for one slice, not the whole pass."""
    store = MemoryStore()
    count = 2_000
    for n in range(1, 2 * count, 2):
        put(store, lease(n))
    lock = CountingLock()
    store._lock = lock  # type: ignore[assignment]

    def each(existing: LeaseRecord) -> InstanceInfo | None:
        lock.holds[-1] += 1
        return deleted_unless_even(existing)

    removed = store.remove_each([key(n) for n in range(1, 2 * count, 2)], each, 2_000)
    assert len(removed) == count
    assert lock.holds == [256] * 7 + [count - 7 * 256]  # each key in one slice of 256
    assert store.count() == 0


_STATUSES = [InstanceStatus.UP, InstanceStatus.DOWN, InstanceStatus.STARTING]
_leases = st.lists(
    st.tuples(
        st.integers(0, 11),  # instance number
        st.sampled_from(["ORDERS", "CARTS"]),
        st.sampled_from(_STATUSES),
        st.sampled_from([None, "a", "a,b"]),  # VIPs
        st.integers(0, 5_000),  # last renewal
    ),
    max_size=12,
)


def _filled(leases: list[tuple[int, str, InstanceStatus, str | None, int]]) -> MemoryStore:
    store = MemoryStore()
    for n, app, status, vip, renewed in leases:
        put(store, lease(n, app=app, status=status, vip_address=vip, renewed_ms=renewed))
    return store


@settings(max_examples=150, deadline=None)
@given(
    leases=_leases,
    keys=st.lists(st.tuples(st.sampled_from(["ORDERS", "CARTS"]), st.integers(0, 12)), max_size=16),
    slice_size=st.sampled_from([1, 2, 256]),
)
def test_the_memory_stores_removals_equal_the_default_path(
    leases: list[tuple[int, str, InstanceStatus, str | None, int]],
    keys: list[tuple[str, int]],
    slice_size: int,
) -> None:
    ours, default = _filled(leases), _filled(leases)
    wanted = [(app, f"host{n}:{app.lower()}:8080") for app, n in keys]
    before = ours.latest_sequence()
    ours.apps_hashcode()  # counted now: the removals must make it count again
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("eureka_embed.storage.memory._SLICE", slice_size)
        removed = ours.remove_each(wanted, deleted_unless_even, 7_000)
    assert removed == Store.remove_each(default, wanted, deleted_unless_even, 7_000)
    assert ours.changes_after(before) == default.changes_after(before)
    records = sorted((r.app, r.instance_id) for r in ours.snapshot().records)
    assert records == sorted((r.app, r.instance_id) for r in default.snapshot().records)
    assert ours.count() == default.count() == len(records)
    assert ours.apps_hashcode() == apps_hashcode(r.instance for r in default.snapshot().records)
    for cut_off in (0, 2_500, 10**6):
        # The candidates the expiry index holds, then what it finds from them.
        due = {r.instance_id for r in ours._index.due(cut_off)}
        assert due == {r.instance_id for r in default._index.due(cut_off)}
        found = {r.instance_id for r in ours.expired(cut_off).records}
        assert found == {r.instance_id for r in default.expired(cut_off).records}
    for view in (ALL, app_view("ORDERS"), app_view("CARTS"), vip_view("a"), vip_view("b")):
        assert ours.view_index(view) == default.view_index(view)
    assert ours.applications() == default.applications()
