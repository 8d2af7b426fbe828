"""The defaults :class:`~eureka_embed.storage.base.Store` gives a backend that does not
override them: ``delta_snapshot``, ``delta_applications``, ``view_index`` and ``expired``.

The stores here override them, so these run the defaults on a memory store directly, as a
third-party store that implements only the abstract methods would get them.
"""

from __future__ import annotations

from eureka_embed.clock import ManualClock
from eureka_embed.model import ActionType
from eureka_embed.registry import Registry
from eureka_embed.storage import MemoryStore, Store
from eureka_embed.storage.view_index import ALL, app_view
from tests.registry.helpers import instance


def test_the_default_delta_snapshot_is_the_window_without_records_with_their_hashcode() -> None:
    clock = ManualClock()
    with MemoryStore() as store:
        registry = Registry(store, clock=clock)
        registry.register(instance(1, "ORDERS"))
        clock.advance(seconds=10)
        since = clock.now_ms()
        registry.register(instance(2, "BILLING"))
        registry.cancel("ORDERS", instance(1, "ORDERS").instance_id)

        delta = Store.delta_snapshot(store, since)
        window = store.snapshot_since(since)

        assert delta.sequence == window.sequence == store.latest_sequence()
        assert delta.records == ()
        assert list(delta.changes) == list(window.changes) == store.changes_since(since)
        assert len(delta.changes) == 2
        # The hashcode of every record (one BILLING instance UP), not of the empty records.
        assert delta.apps_hashcode == window.apps_hashcode == "UP_1_"


def test_the_default_view_index_is_at_least_one_and_moves_with_every_change() -> None:
    with MemoryStore() as store:
        registry = Registry(store, clock=ManualClock())
        first = Store.view_index(store, ALL)
        assert first >= 1  # on a store that has seen no change yet
        registry.register(instance(1, "ORDERS"))
        second = Store.view_index(store, app_view("BILLING"))
        assert second > first  # every view follows the whole registry
        assert Store.view_index(store, ALL) == second


def test_the_default_expired_is_exactly_the_leases_that_ran_out_before_the_cut_off() -> None:
    clock = ManualClock()
    with MemoryStore() as store:
        registry = Registry(store, clock=clock)
        registry.register(instance(1, "ORDERS"))
        clock.advance(seconds=30)
        registry.register(instance(2, "ORDERS"))
        first = store.get("ORDERS", instance(1, "ORDERS").instance_id)
        assert first is not None
        runs_out = first.last_renewal_ms + first.duration_ms

        at_the_instant = Store.expired(store, runs_out)
        assert list(at_the_instant.records) == []  # ran out at, not before, the cut-off
        assert at_the_instant.total == 2
        after = Store.expired(store, runs_out + 1)
        assert [r.instance_id for r in after.records] == [first.instance_id]


def test_the_default_delta_applications_is_each_changed_instance_of_the_window_once() -> None:
    clock = ManualClock()
    with MemoryStore() as store:
        registry = Registry(store, clock=clock)
        registry.register(instance(1, "ORDERS"))
        clock.advance(seconds=10)
        since = clock.now_ms()
        registry.register(instance(2, "BILLING"))
        registry.register(instance(3, "BILLING"))
        registry.cancel("ORDERS", instance(1, "ORDERS").instance_id)
        registry.cancel("BILLING", instance(3, "BILLING").instance_id)

        delta = Store.delta_applications(store, since)

        assert delta == store.delta_applications(since)  # the kept window gives the same
        assert delta.version == str(store.latest_sequence())
        assert delta.apps_hashcode == "UP_1_"  # of every record: one BILLING instance
        # Instance 1's registration is before the window: only its cancel is in it; instance 3
        # changed twice in it and shows once, as it was last.
        shown = {i.instance_id: i.action_type for i in delta.instances()}
        assert shown == {
            instance(1, "ORDERS").instance_id: ActionType.DELETED,
            instance(2, "BILLING").instance_id: ActionType.ADDED,
            instance(3, "BILLING").instance_id: ActionType.DELETED,
        }
