"""A store whose leases all came, were renewed into later seconds and went holds no memory for
them: the index's expiry buckets (one per second a lease runs out in) go with their last lease.
Under self-preservation nothing is evicted for hours, so a bucket left behind per second would
pile up, and every eviction pass would read them all (found by mutation testing: buckets kept
empty, or filed under a key that never matched, passed every test, since no answer changes).

Measured as the memory blocks the index's module still holds, with tracemalloc: each bucket
left behind is a block of its own, while a dict's table is one block however large.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

from eureka_embed.model import ActionType
from eureka_embed.storage import LeaseRecord, MemoryStore, Write, record_index
from tests.registry.helpers import instance

LEASES = 1_000


def adding(record: LeaseRecord, at_ms: int) -> Callable[[LeaseRecord | None], tuple[Write, None]]:
    return lambda _: (Write(record, ActionType.ADDED, change_ms=at_ms), None)


def come_renew_and_go(store: MemoryStore, start_ms: int) -> None:
    ids = [instance(n).instance_id for n in range(LEASES)]
    for n, instance_id in enumerate(ids):  # each runs out in a second of its own
        record = LeaseRecord(instance(n), duration_ms=90_000, last_renewal_ms=start_ms + n * 1000)
        store.mutate("ORDERS", instance_id, adding(record, start_ms))
    for n, instance_id in enumerate(ids):  # heartbeats move each to a later second
        store.renew("ORDERS", instance_id, start_ms + n * 1000 + 10_000_000)
    for instance_id in ids:
        store.mutate("ORDERS", instance_id, lambda _: (Write(None, ActionType.DELETED), None))
    store.prune_changes(start_ms + 1)


def test_no_memory_block_per_lease_is_left_once_the_leases_are_gone() -> None:
    store = MemoryStore()
    come_renew_and_go(store, start_ms=0)  # the index's dicts grow to their size once
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        come_renew_and_go(store, start_ms=100_000_000)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert store.count() == 0
    only_the_index = [tracemalloc.Filter(True, record_index.__file__)]
    held = after.filter_traces(only_the_index).compare_to(
        before.filter_traces(only_the_index), "filename"
    )
    blocks = sum(stat.count_diff for stat in held)
    assert blocks < LEASES // 10, f"{blocks} blocks left for {LEASES} leases gone"
