"""Watch indexes (storage/view_index.py) after one instance of an application is cancelled:
the others of that application are still remembered, so one that then moves to another VIP
still moves the VIP it left (found by mutation testing: forgetting the application's other
instances at the first cancel passed every test)."""

from __future__ import annotations

from eureka_embed.registry import Registry
from eureka_embed.storage.memory import MemoryStore
from eureka_embed.storage.view_index import vip_view
from tests.registry.helpers import instance


def test_an_instance_leaving_its_vip_after_a_neighbour_was_cancelled_moves_that_vip() -> None:
    store = MemoryStore()
    registry = Registry(store)
    registry.register(instance(1, vip_address="left", ldt=100))
    registry.register(instance(2, vip_address="left", ldt=100))
    assert registry.cancel("ORDERS", instance(1).instance_id)
    before = store.view_index(vip_view("left"))
    registry.register(instance(2, vip_address="joined", ldt=200))
    assert store.view_index(vip_view("left")) > before  # its watchers see it gone
