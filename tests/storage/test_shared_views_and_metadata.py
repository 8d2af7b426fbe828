"""Memory per instance (issue 12, <= 1.5 KB at 100k): the watch indexes keep one tuple of views
per distinct set of views, not one per instance, and equal metadata maps are one shared map.
Memory is counted by tracemalloc (allocations, not time: the same figure in every run)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Mapping

from eureka_embed import model
from eureka_embed.model import ActionType, frozen_metadata
from eureka_embed.registry import Registry
from eureka_embed.storage.base import Change
from eureka_embed.storage.memory import MemoryStore
from eureka_embed.storage.view_index import ViewIndexes, app_view, vip_view
from tests.registry.helpers import instance

INSTANCES = 2_000


def bytes_per_call(count: int, call: Callable[[int], object]) -> float:
    kept = []
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for n in range(count):
            kept.append(call(n))
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (after - before) / count


def test_the_views_of_many_instances_of_a_few_applications_cost_little_each() -> None:
    views = ViewIndexes()
    made = [
        instance(f"{n}.example.internal", f"APP{n % 4}", vip_address=f"app{n % 4}")
        for n in range(INSTANCES)
    ]

    def record(n: int) -> None:
        views.record(Change(n + 1, 0, ActionType.ADDED, made[n]))

    # An own tuple of two views (app and VIP) per instance cost about 300 bytes.
    assert bytes_per_call(INSTANCES, record) < 120


def test_cancelling_an_applications_last_instance_and_registering_again_moves_its_views() -> None:
    store = MemoryStore()
    registry = Registry(store)
    registry.register(instance(1, vip_address="orders"))
    registry.cancel("ORDERS", "host1:orders:8080")
    gone = store.view_index(vip_view("orders")), store.view_index(app_view("ORDERS"))
    registry.register(instance(2, vip_address="orders"))
    assert store.view_index(vip_view("orders")) > gone[0]
    registry.update_status("ORDERS", "host2:orders:8080", model.InstanceStatus.DOWN)
    moved = store.view_index(vip_view("orders"))
    assert moved > gone[0]
    registry.cancel("ORDERS", "host2:orders:8080")  # the one remembered after the first left
    assert store.view_index(vip_view("orders")) > moved
    assert store.view_index(app_view("ORDERS")) > gone[1]


def test_an_instance_of_another_application_with_the_same_id_is_remembered_apart() -> None:
    store = MemoryStore()
    registry = Registry(store)
    same_id = "shared-host:8080"
    registry.register(instance(1, "ORDERS", instance_id=same_id, vip_address="orders"))
    registry.register(instance(1, "BILLING", instance_id=same_id, vip_address="billing"))
    billing = store.view_index(vip_view("billing"))
    registry.cancel("ORDERS", same_id)
    assert store.view_index(vip_view("billing")) == billing  # not the other app's VIP
    registry.cancel("BILLING", same_id)
    assert store.view_index(vip_view("billing")) > billing


def test_equal_metadata_is_one_shared_read_only_map() -> None:
    first = frozen_metadata({"zone": "zone-a", "management.port": "8081"})
    again = frozen_metadata({"zone": "zone-a", "management.port": "8081"})
    assert again is first
    assert dict(again) == {"zone": "zone-a", "management.port": "8081"}
    other = frozen_metadata({"zone": "zone-b", "management.port": "8081"})
    assert other is not first
    assert other["zone"] == "zone-b"


def test_metadata_in_another_order_keeps_its_own_order() -> None:
    frozen_metadata({"a": "1", "b": "2"})
    assert list(frozen_metadata({"b": "2", "a": "1"})) == ["b", "a"]


def test_values_outside_the_type_are_never_shared_with_equal_looking_ones() -> None:
    one: Mapping[str, object] = frozen_metadata({"flag": 1})  # type: ignore[dict-item]
    true: Mapping[str, object] = frozen_metadata({"flag": True})  # type: ignore[dict-item]
    assert true["flag"] is True
    assert one["flag"] == 1 and one["flag"] is not True


def test_metadata_unique_to_each_instance_does_not_grow_the_shared_maps_without_bound() -> None:
    limit = model._SHARED_METADATA_LIMIT
    for n in range(limit + 50):
        assert frozen_metadata({"instanceId": f"host{n}"})["instanceId"] == f"host{n}"
    assert len(model._SHARED_METADATA) <= limit


def test_instances_with_equal_metadata_hold_one_map() -> None:
    registry = Registry(MemoryStore())
    first = registry.register(instance(1, metadata={"zone": "zone-a"}))
    second = registry.register(instance(2, metadata={"zone": "zone-a"}))
    assert first.metadata is second.metadata
