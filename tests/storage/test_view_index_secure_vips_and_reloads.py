"""Watch indexes (storage/view_index.py), found by mutation testing: a secure VIP is a view of
its own, apart from the plain VIP of the same name, and a reload at the sequence the indexes
already show moves none of them (watchers would wake for nothing)."""

from __future__ import annotations

from eureka_embed.model import ActionType
from eureka_embed.registry import Registry
from eureka_embed.storage.base import Change, LeaseRecord
from eureka_embed.storage.memory import MemoryStore
from eureka_embed.storage.view_index import ALL, ViewIndexes, app_view, vip_view
from tests.registry.helpers import instance

SECURE = vip_view("pay", secure=True)
PLAIN = vip_view("pay")


def test_a_secure_vip_and_the_plain_vip_of_the_same_name_move_apart() -> None:
    store = MemoryStore()
    registry = Registry(store)

    def indexes() -> tuple[int, int]:
        return store.view_index(SECURE), store.view_index(PLAIN)

    secure_before, plain_before = indexes()
    registry.register(instance(1, secure_vip_address="PAY"))
    secure_after, plain_after = indexes()
    assert secure_after > secure_before
    assert plain_after == plain_before

    registry.register(instance(2, vip_address="pay"))
    assert indexes()[0] == secure_after
    assert indexes()[1] > plain_after


def test_a_reset_at_the_sequence_already_shown_moves_no_index() -> None:
    views = ViewIndexes()
    views.reset(5, [])
    shown = {view: views.index(view) for view in (ALL, app_view("orders"), SECURE)}
    views.reset(5, [])
    assert {view: views.index(view) for view in shown} == shown


def test_a_reset_to_an_older_sequence_still_moves_every_index_forwards() -> None:
    views = ViewIndexes()
    views.reset(9, [])
    shown = views.index(ALL)
    views.reset(2, [])  # the database was replaced by an older one
    assert views.index(ALL) > shown
    assert views.index(app_view("orders")) > shown


def test_an_instance_that_moves_to_another_vip_moves_the_vip_it_left() -> None:
    store = MemoryStore()
    registry = Registry(store)
    registry.register(instance(1, vip_address="left", ldt=100))
    before = store.view_index(vip_view("left"))
    registry.register(instance(1, vip_address="joined", ldt=200))
    assert store.view_index(vip_view("left")) > before  # its watchers see it gone


def test_after_a_reset_every_instance_of_an_app_remembers_its_views() -> None:
    """Not only the last of each application: one moved off a VIP moves that VIP's index."""
    first = instance(1, "ORDERS", vip_address="old-vip")
    second = instance(2, "ORDERS", vip_address="old-vip")
    views = ViewIndexes()
    views.reset(10, [LeaseRecord(first, 90_000, 0), LeaseRecord(second, 90_000, 0)])
    views.record(Change(11, 0, ActionType.MODIFIED, first.evolve(vip_address="new-vip")))
    assert views.index(vip_view("old-vip")) == views.index(vip_view("new-vip"))
    assert views.index(vip_view("old-vip")) > views.index(app_view("OTHER"))
