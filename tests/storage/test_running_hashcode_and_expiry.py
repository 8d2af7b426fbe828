"""The counts a store keeps as it goes agree with a count from scratch, on every snapshot.

The apps hashcode is kept per status by the record index, and eviction reads an expiry-ordered
index instead of every lease. Both are checked against what a full count and a full scan give,
over any sequence of registry writes, on the memory store and on SQLite; the full scan is the
:class:`~eureka_embed.storage.base.Store` default, run by a twin registry fed the same writes.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.errors import InstanceNotFound
from eureka_embed.model import InstanceStatus, LeaseInfo, apps_hashcode
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.base import ExpiredLeases
from eureka_embed.storage.record_index import RecordIndex
from eureka_embed.storage.sql import SqlStore
from tests.registry.helpers import instance

STATUSES = list(InstanceStatus)


class FullScanStore(MemoryStore):
    """A memory store answering eviction from a scan of every record, as before the index."""

    def expired(self, before_ms: int) -> ExpiredLeases:
        return Store.expired(self, before_ms)


def _config(threshold: float) -> RegistryConfig:
    return RegistryConfig(self_preservation=False, renewal_percent_threshold=threshold)


# One step: (what, which instance, a status, seconds the clock moves first).
steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["register", "renew", "cancel", "status", "unoverride", "evict", "evict", "metadata"]
        ),
        st.integers(0, 7),
        st.sampled_from(STATUSES),
        st.sampled_from([0, 0, 1, 13, 31, 45, 89, 91, 200]),
    ),
    max_size=40,
)


def _apply(registry: Registry, what: str, n: int, status: InstanceStatus) -> object:
    app = "ORDERS" if n % 2 else "BILLING"
    iid = instance(n, app).instance_id
    try:
        if what == "register":
            duration = 30 + 30 * (n % 3)  # leases of different lengths share the buckets
            return registry.register(
                instance(n, app, status=status, lease_info=LeaseInfo(duration_secs=duration))
            )
        if what == "renew":
            return registry.renew(app, iid).outcome
        if what == "cancel":
            return registry.cancel(app, iid)
        if what == "status":
            return registry.update_status(app, iid, status)
        if what == "unoverride":
            return registry.delete_status_override(app, iid, status)
        if what == "metadata":
            return registry.update_metadata(app, iid, {"k": str(n)})
        return sorted(i.instance_id for i in registry.evict())
    except InstanceNotFound:
        return None


def _check_counts(registry: Registry) -> None:
    snapshot = registry.store.snapshot()
    counted = apps_hashcode(r.instance for r in snapshot.records)
    assert snapshot.apps_hashcode == counted
    assert registry.store.snapshot_since(0).apps_hashcode == counted
    delta = registry.store.delta_snapshot(0)
    assert delta.apps_hashcode == counted
    assert delta.changes == registry.store.changes_since(0)
    assert registry.apps_hashcode() == counted
    assert registry.get_delta().apps_hashcode == counted
    assert registry.get_applications().apps_hashcode == counted
    # Regrouped per changed application, the same as grouping every record afresh.
    store = registry.store
    assert store.applications() == Store.applications(store)
    assert registry.get_applications() == Store.applications(store)
    # The window read from the newest end, the same as a filter of the whole log.
    for back_s in (0, 1, 31, 120):
        since = registry.clock.now_ms() - back_s * 1000
        assert store.changes_since(since) == [
            c for c in store.changes_since(0) if c.timestamp_ms >= since
        ]


def _run(store: Store, program: list[tuple[str, int, InstanceStatus, int]], cap: bool) -> None:
    clock = ManualClock()
    threshold = 0.5 if cap else 0.01  # 0.01: no cap under 100 leases; 0.5: half per run
    ours = Registry(store, _config(threshold), clock, rng=random.Random(3))
    reference = Registry(FullScanStore(), _config(threshold), clock, rng=random.Random(3))
    for what, n, status, seconds in program:
        clock.advance(seconds=seconds)
        assert _apply(ours, what, n, status) == _apply(reference, what, n, status)
        _check_counts(ours)
        assert ours.get_applications() == reference.get_applications()
    reference.close()


_settings = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(program=steps, cap=st.booleans())
def test_memory_store_counts_and_evicts_as_a_full_scan_would(
    program: list[tuple[str, int, InstanceStatus, int]], cap: bool
) -> None:
    with MemoryStore() as store:
        _run(store, program, cap)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=steps, cap=st.booleans())
def test_sqlite_store_counts_and_evicts_as_a_full_scan_would(
    program: list[tuple[str, int, InstanceStatus, int]], cap: bool
) -> None:
    with SqlStore("sqlite://", migrate_schema=True, background=False) as store:
        _run(store, program, cap)


def test_a_status_override_and_an_expired_lease_count_as_stored() -> None:
    clock = ManualClock()
    with MemoryStore() as store:
        registry = Registry(store, RegistryConfig(), clock)
        registry.register(instance(1))
        registry.register(instance(2))
        registry.update_status("ORDERS", instance(2).instance_id, InstanceStatus.OUT_OF_SERVICE)
        clock.advance(seconds=200)  # both expired; self-preservation keeps them
        assert registry.evict() == []
        assert registry.apps_hashcode() == "OUT_OF_SERVICE_1_UP_1_"
        registry.cancel("ORDERS", instance(1).instance_id)
        assert registry.apps_hashcode() == "OUT_OF_SERVICE_1_"
        registry.cancel("ORDERS", instance(2).instance_id)
        assert registry.apps_hashcode() == ""


def test_a_renewal_moves_the_lease_out_of_the_expiry_candidates() -> None:
    clock = ManualClock()
    store = MemoryStore()
    with store:
        registry = Registry(store, _config(0.01), clock)
        registry.register(instance(1))
        registry.register(instance(2))
        clock.advance(seconds=80)
        registry.renew("ORDERS", instance(2).instance_id)
        clock.advance(seconds=11)  # 91 s after registering: only host1 ran out
        cut_off = clock.now_ms()
        index: RecordIndex = store._index
        # What a pass reads is the lease that ran out, not the one renewed since.
        assert [r.instance_id for r in index.due(cut_off)] == [instance(1).instance_id]
        assert [i.instance_id for i in registry.evict()] == [instance(1).instance_id]


def test_a_renewal_read_in_behind_the_index_is_filed_right_by_the_pass() -> None:
    # SqlStore raises renewal times it reads from other nodes without telling the index.
    clock = ManualClock()
    store = MemoryStore()
    with store:
        registry = Registry(store, _config(0.01), clock)
        registry.register(instance(1))
        record = store.get("ORDERS", instance(1).instance_id)
        assert record is not None
        clock.advance(seconds=80)
        record.last_renewal_ms = clock.now_ms()
        clock.advance(seconds=11)
        assert registry.evict() == []
        assert store._index.due(clock.now_ms()) == []  # moved to the bucket it runs out in
        for _ in range(2):  # runs on time (every 60 s), so no lateness is added
            clock.advance(seconds=60)
            evicted = registry.evict()
        assert [i.instance_id for i in evicted] == [instance(1).instance_id]
