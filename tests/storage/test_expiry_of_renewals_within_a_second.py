"""``Store.expired`` after heartbeats that do not fall on a whole second.

The stores file each lease under the second it runs out in; the registry tests move their
clocks in whole seconds, so these renew at odd milliseconds, and renew several leases into
one second, then ask for exactly the leases that ran out.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.sql import SqlStore
from tests.registry.helpers import instance


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        with MemoryStore() as memory:
            yield memory
    else:
        with SqlStore("sqlite://", migrate_schema=True, background=False) as sql:
            yield sql


def _expired_ids(store: Store, before_ms: int) -> set[str]:
    return {r.instance_id for r in store.expired(before_ms).records}


def test_a_lease_renewed_at_an_odd_millisecond_is_expired_one_millisecond_after_it_ran_out(
    store: Store,
) -> None:
    clock = ManualClock(start_ms=1_700_000_000_000)
    registry = Registry(store, clock=clock)
    one = instance(1, "ORDERS")
    registry.register(one)
    renewed_at = clock.now_ms() + 5_567
    assert store.renew("ORDERS", one.instance_id, renewed_at) is not None
    record = store.get("ORDERS", one.instance_id)
    assert record is not None
    runs_out = renewed_at + record.duration_ms

    assert _expired_ids(store, runs_out) == set()  # not yet: expired means "before"
    assert _expired_ids(store, runs_out + 1) == {one.instance_id}


def test_leases_renewed_into_the_same_second_are_all_expired(store: Store) -> None:
    clock = ManualClock(start_ms=1_700_000_000_000)
    registry = Registry(store, clock=clock)
    ids = []
    for n in range(3):
        # Registered in different seconds, so each starts in a bucket of its own.
        registry.register(instance(n, "ORDERS"))
        ids.append(instance(n, "ORDERS").instance_id)
        clock.advance(seconds=2)
    renewed_at = clock.now_ms() + 10_000
    for offset, iid in enumerate(ids):
        assert store.renew("ORDERS", iid, renewed_at + offset) is not None
    record = store.get("ORDERS", ids[-1])
    assert record is not None
    last_runs_out = renewed_at + len(ids) - 1 + record.duration_ms

    assert _expired_ids(store, last_runs_out + 1) == set(ids)


def test_a_lease_running_out_on_a_whole_second_is_expired_one_millisecond_later(
    store: Store,
) -> None:
    clock = ManualClock(start_ms=1_700_000_000_000)  # a whole second: so is the lease's end
    Registry(store, clock=clock).register(instance(1, "ORDERS"))
    record = store.get("ORDERS", instance(1, "ORDERS").instance_id)
    assert record is not None
    runs_out = record.last_renewal_ms + record.duration_ms
    assert runs_out % 1000 == 0

    assert _expired_ids(store, runs_out + 1) == {record.instance_id}


def test_a_lease_asked_about_early_in_the_second_it_runs_out_is_still_found_later(
    store: Store,
) -> None:
    clock = ManualClock(start_ms=1_700_000_000_000)
    registry = Registry(store, clock=clock)
    one = instance(1, "ORDERS")
    registry.register(one)
    renewed_at = clock.now_ms() + 3_600
    store.renew("ORDERS", one.instance_id, renewed_at)
    record = store.get("ORDERS", one.instance_id)
    assert record is not None
    runs_out = renewed_at + record.duration_ms

    assert _expired_ids(store, runs_out - 500) == set()  # the same second, not run out yet
    assert _expired_ids(store, runs_out + 1) == {one.instance_id}


def test_a_lease_whose_second_lost_another_lease_is_still_expired(store: Store) -> None:
    clock = ManualClock(start_ms=1_700_000_000_000)
    registry = Registry(store, clock=clock)
    registry.register(instance(1, "ORDERS"))
    registry.register(instance(2, "ORDERS"))  # the same second: one bucket for both
    registry.cancel("ORDERS", instance(1, "ORDERS").instance_id)
    left = store.get("ORDERS", instance(2, "ORDERS").instance_id)
    assert left is not None

    assert _expired_ids(store, left.last_renewal_ms + left.duration_ms + 1) == {left.instance_id}
