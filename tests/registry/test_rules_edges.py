"""Edges of the registry rules that the behaviour suite left open (found by mutation testing).

Each test states a rule a user of the registry can observe: a boundary of the renewal-rate
minute, of self-preservation or of eviction, a field a write must (or must not) change, what a
listener and an :class:`InstanceNotFound` report. They run over the memory store on a
:class:`ManualClock`; the store does not take part in these rules.
"""

from __future__ import annotations

import gc
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.errors import InstanceNotFound, ValidationError
from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.model import ActionType, InstanceStatus, LeaseInfo
from eureka_embed.registry import Registry, RenewOutcome
from eureka_embed.storage import MemoryStore
from eureka_embed.storage.base import ExpiredLeases, LeaseRecord, Snapshot, Write
from tests.registry.helpers import instance

UP = InstanceStatus.UP
DOWN = InstanceStatus.DOWN
OOS = InstanceStatus.OUT_OF_SERVICE
STARTING = InstanceStatus.STARTING
UNKNOWN = InstanceStatus.UNKNOWN

ID = instance().instance_id


def make(clock: ManualClock, store: MemoryStore | None = None, **config: Any) -> Registry:
    return Registry(store, RegistryConfig(**config), clock, rng=random.Random(7))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_ms=1_800_000_000_000)


@pytest.fixture
def registry(clock: ManualClock) -> Registry:
    return make(clock)


def events_of(registry: Registry) -> list[RegistryEvent]:
    seen: list[RegistryEvent] = []
    registry.add_listener(seen.append)
    return seen


# -- renewals per minute (self-preservation's measure)


def test_no_renewals_are_counted_before_the_first_minute_ends(registry: Registry) -> None:
    assert registry.renews_last_minute() == 0


def test_a_renewal_at_the_minute_boundary_counts_for_the_next_minute(
    registry: Registry, clock: ManualClock
) -> None:
    registry.register(instance())
    registry.renew("ORDERS", ID)
    clock.advance(seconds=60)  # exactly the end of the first minute
    registry.renew("ORDERS", ID)
    assert registry.renews_last_minute() == 1
    clock.advance(seconds=60)
    assert registry.renews_last_minute() == 1


def test_a_gap_of_more_than_a_minute_means_no_renewals_last_minute(
    registry: Registry, clock: ManualClock
) -> None:
    # What stops mass eviction after an outage: the minute before now saw nothing.
    registry.register(instance())
    for _ in range(5):
        registry.renew("ORDERS", ID)
    clock.advance(seconds=150)
    assert registry.renews_last_minute() == 0


# -- the clock, the random source, listeners


def test_leases_are_stamped_with_the_injected_clock(registry: Registry, clock: ManualClock) -> None:
    stored = registry.register(instance())
    assert stored.lease_info.registration_timestamp == clock.now_ms()
    assert stored.last_updated_timestamp == clock.now_ms()


def test_an_eviction_within_the_cap_evicts_all_and_warns_of_nothing(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    registry = make(clock, self_preservation=False)
    for n in range(3):
        registry.register(instance(n))
    clock.advance(seconds=60)
    for n in range(3, 20):
        registry.register(instance(n))
    clock.advance(seconds=31)  # the first 3 of 20 expired: exactly the 15 % cap
    with caplog.at_level(logging.WARNING, logger="eureka_embed.registry"):
        assert len(registry.evict()) == 3
    assert caplog.records == []


def test_a_registry_without_an_rng_can_cap_an_eviction_and_logs_the_cap(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry(config=RegistryConfig(self_preservation=False), clock=clock)
    for n in range(20):
        registry.register(instance(n))
    clock.advance(seconds=91)
    with caplog.at_level(logging.INFO, logger="eureka_embed.registry"):
        assert len(registry.evict()) == 3  # 15 % of 20
    assert [r.getMessage() for r in caplog.records] == [
        "20 leases expired; evicting 3 this run (cap of 15%)",
        "evicted 3 expired leases",
    ]


def test_a_failing_listener_is_logged_by_name_and_action(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_listener(event: RegistryEvent) -> None:
        raise RuntimeError("boom")

    registry.add_listener(broken_listener)
    registry.register(instance())
    [logged] = caplog.records
    assert logged.getMessage().startswith("registry listener <function ")
    assert "broken_listener" in logged.getMessage()
    assert logged.getMessage().endswith("failed on Register")


def test_the_same_seed_evicts_the_same_instances(clock: ManualClock) -> None:
    def evicted_ids() -> set[str]:
        own_clock = ManualClock(clock.now_ms())
        registry = make(own_clock, self_preservation=False)
        for n in range(40):
            registry.register(instance(n))
        own_clock.advance(seconds=91)
        return {gone.instance_id for gone in registry.evict()}

    assert evicted_ids() == evicted_ids()


def test_removing_one_listener_keeps_the_others(registry: Registry) -> None:
    kept: list[RegistryEvent] = []
    removed: list[RegistryEvent] = []
    to_remove = removed.append  # one bound method object, as remove_listener compares by identity
    registry.add_listener(kept.append)
    registry.add_listener(to_remove)
    registry.remove_listener(to_remove)
    registry.register(instance())
    assert [e.action for e in kept] == [WriteAction.REGISTER]
    assert removed == []


def test_every_write_event_names_its_app_instance_and_status(registry: Registry) -> None:
    seen = events_of(registry)
    registry.register(instance(app="orders"))
    registry.update_status("ORDERS", ID, OOS)
    registry.delete_status_override("ORDERS", ID, UP)
    registry.update_metadata("ORDERS", ID, {"zone": "a"})
    registry.cancel("ORDERS", ID)
    assert [(e.action, e.app, e.instance_id) for e in seen] == [
        (action, "ORDERS", ID)
        for action in (
            WriteAction.REGISTER,
            WriteAction.STATUS_UPDATE,
            WriteAction.DELETE_STATUS_OVERRIDE,
            WriteAction.REGISTER,
            WriteAction.CANCEL,
        )
    ]
    assert seen[1].status is OOS
    assert seen[2].status is UP
    assert seen[-1].instance.instance_id == ID  # a cancel reports what was removed


def test_a_delete_override_event_carries_the_new_status_even_without_an_override(
    registry: Registry,
) -> None:
    registry.register(instance())
    seen = events_of(registry)
    registry.delete_status_override("ORDERS", ID, DOWN)
    assert seen[0].status is DOWN


def test_a_replicated_metadata_update_is_reported_as_replicated(registry: Registry) -> None:
    registry.register(instance())
    seen = events_of(registry)
    registry.update_metadata("ORDERS", ID, {"zone": "a"}, replication=True)
    assert seen[0].replication is True


@pytest.mark.parametrize(
    "write",
    [
        lambda r: r.cancel("orders", ID),
        lambda r: r.update_status("orders", ID, OOS),
        lambda r: r.delete_status_override("orders", ID),
        lambda r: r.update_metadata("orders", ID, {"a": "b"}),
    ],
    ids=["cancel", "update_status", "delete_status_override", "update_metadata"],
)
def test_instance_not_found_names_the_app_and_the_instance(
    registry: Registry, write: Callable[[Registry], object]
) -> None:
    with pytest.raises(InstanceNotFound) as caught:
        write(registry)
    assert (caught.value.app, caught.value.instance_id) == ("ORDERS", ID)


# -- registration


def test_a_one_second_lease_is_kept_as_given(clock: ManualClock) -> None:
    registry = make(clock, self_preservation=False)
    short = LeaseInfo(renewal_interval_secs=1, duration_secs=1)
    stored = registry.register(instance(lease_info=short))
    assert stored.lease_info.duration_secs == 1
    clock.advance(ms=1001)
    assert registry.get_instance("ORDERS", ID) is None


def test_a_lease_without_duration_is_stored_with_the_default_duration(
    registry: Registry,
) -> None:
    stored = registry.register(instance(lease_info=LeaseInfo(renewal_interval_secs=10)))
    assert stored.lease_info.duration_secs == 90
    assert stored.lease_info.renewal_interval_secs == 10


def test_a_registration_starts_a_fresh_lease(registry: Registry) -> None:
    # An instance copied from a peer may carry the eviction stamp of an older lease.
    old = LeaseInfo(renewal_interval_secs=30, duration_secs=90, eviction_timestamp=5)
    stored = registry.register(instance(lease_info=old))
    assert stored.lease_info.eviction_timestamp == 0


def test_a_reregistration_shows_the_override_it_keeps(registry: Registry) -> None:
    registry.register(instance())
    registry.update_status("ORDERS", ID, OOS)
    stored = registry.register(instance(ldt=10_000))
    assert (stored.status, stored.overridden_status) == (OOS, OOS)


# -- heartbeats and status overrides


def _force_record(store: MemoryStore, status: InstanceStatus, override: InstanceStatus) -> None:
    """A lease whose status disagrees with its override, as a concurrent write can leave it."""

    def write(existing: LeaseRecord | None) -> tuple[Write | None, None]:
        assert existing is not None
        current = existing.instance.evolve(status=status, overridden_status=override)
        return Write(
            LeaseRecord(current, existing.duration_ms, existing.last_renewal_ms, override)
        ), None

    store.mutate("ORDERS", ID, write)


@pytest.mark.parametrize(("status", "override"), [(UP, OOS), (OOS, UP)])
def test_a_heartbeat_reapplies_an_override_the_status_disagrees_with(
    clock: ManualClock, status: InstanceStatus, override: InstanceStatus
) -> None:
    store = MemoryStore()
    registry = make(clock, store)
    registry.register(instance())
    _force_record(store, status, override)
    clock.advance(seconds=5)
    assert registry.renew("ORDERS", ID).outcome is RenewOutcome.OK
    now = registry.get_instance("ORDERS", ID)
    assert now is not None
    assert (now.status, now.overridden_status) == (override, override)
    assert now.last_updated_timestamp == clock.now_ms()
    assert now.action_type is ActionType.MODIFIED


def test_a_client_heartbeat_cannot_set_an_override(registry: Registry) -> None:
    registry.register(instance())
    registry.renew("ORDERS", ID, overridden_status=OOS)
    assert registry.register(instance(ldt=200)).status is UP


def test_a_peer_override_is_recorded_even_when_it_does_not_change_the_status(
    registry: Registry, clock: ManualClock
) -> None:
    registry.register(instance(status=DOWN))
    clock.advance(seconds=5)
    registry.renew("ORDERS", ID, overridden_status=OOS, replication=True)
    recorded = registry.get_instance("ORDERS", ID)
    assert recorded is not None
    assert (recorded.status, recorded.overridden_status) == (DOWN, OOS)
    assert recorded.last_updated_timestamp == clock.now_ms()
    # The recorded override wins when the client comes back UP.
    assert registry.register(instance(ldt=200)).status is OOS


def test_a_status_update_stamps_service_up_only_on_the_first_up(
    registry: Registry, clock: ManualClock
) -> None:
    registry.register(instance(status=STARTING))
    clock.advance(seconds=1)
    assert registry.update_status("ORDERS", ID, OOS).lease_info.service_up_timestamp == 0
    clock.advance(seconds=1)
    first_up = clock.now_ms()
    stored = registry.update_status("ORDERS", ID, UP)
    assert stored.lease_info.service_up_timestamp == first_up
    assert stored.last_updated_timestamp == first_up
    clock.advance(seconds=1)
    registry.update_status("ORDERS", ID, OOS)
    clock.advance(seconds=1)
    assert registry.update_status("ORDERS", ID, UP).lease_info.service_up_timestamp == first_up


def test_removing_an_override_is_a_modification_in_the_delta(
    registry: Registry, clock: ManualClock
) -> None:
    registry.register(instance(overridden_status=OOS))  # an override that came registered
    clock.advance(seconds=5)
    stored = registry.delete_status_override("ORDERS", ID, UP, last_dirty_timestamp=5_000)
    assert stored.action_type is ActionType.MODIFIED
    assert stored.last_updated_timestamp == clock.now_ms()
    assert stored.last_dirty_timestamp == 5_000
    clock.advance(seconds=170)  # still inside the three-minute delta window
    delta = registry.get_delta()
    changed = [i for app in delta.applications for i in app.instances]
    assert [(i.status, i.action_type) for i in changed] == [(UP, ActionType.MODIFIED)]


def test_removing_an_absent_override_keeps_the_instance_and_renews_it(clock: ManualClock) -> None:
    registry = make(clock, self_preservation=False)
    registry.register(instance())
    clock.advance(seconds=80)
    registry.delete_status_override("ORDERS", ID)
    clock.advance(seconds=80)
    assert registry.get_instance("ORDERS", ID) is not None


def test_removing_an_override_renews_the_lease(clock: ManualClock) -> None:
    registry = make(clock, self_preservation=False)
    registry.register(instance())
    registry.update_status("ORDERS", ID, OOS)
    clock.advance(seconds=80)
    registry.delete_status_override("ORDERS", ID, UP)
    clock.advance(seconds=80)
    assert registry.get_instance("ORDERS", ID) is not None


def test_a_cancelled_instance_shows_its_last_renewal_and_cancel_time(
    registry: Registry, clock: ManualClock
) -> None:
    registry.register(instance())
    clock.advance(seconds=30)
    renewed_at = clock.now_ms()
    registry.renew("ORDERS", ID)
    clock.advance(seconds=10)
    gone = registry.cancel("ORDERS", ID)
    assert gone.lease_info.last_renewal_timestamp == renewed_at
    assert gone.last_updated_timestamp == clock.now_ms()
    assert gone.lease_info.eviction_timestamp == clock.now_ms()


# -- reads


def test_an_application_lists_its_instances_by_id_under_its_upper_case_name(
    registry: Registry,
) -> None:
    for n in (3, 1, 2):
        registry.register(instance(n))
    app = registry.get_application("orders")
    assert app is not None
    assert app.name == "ORDERS"
    assert [i.instance_id for i in app.instances] == [instance(n).instance_id for n in (1, 2, 3)]


def test_the_delta_carries_the_registry_sequence_as_its_version(registry: Registry) -> None:
    registry.register(instance())
    registry.register(instance(2))
    assert registry.get_delta().version == str(registry.sequence)


# -- self-preservation thresholds


def test_open_for_traffic_sets_the_threshold(registry: Registry) -> None:
    registry.open_for_traffic(10)
    assert registry.renewal_threshold() == 17  # 10 clients x 2 renewals x 0.85
    assert registry.is_self_preservation_active()


def test_cancelling_the_last_instance_expects_no_clients(clock: ManualClock) -> None:
    registry = make(clock, initial_expected_clients=0)
    registry.register(instance())
    registry.cancel("ORDERS", ID)
    assert registry.expected_clients == 0


def test_renewals_exactly_at_the_threshold_keep_self_preservation_on(
    registry: Registry, clock: ManualClock
) -> None:
    registry.register(instance())
    registry.open_for_traffic(1)  # threshold 1
    registry.renew("ORDERS", ID)
    clock.advance(seconds=60)
    assert registry.renews_last_minute() == 1
    assert registry.is_self_preservation_active()
    registry.renew("ORDERS", ID)
    registry.renew("ORDERS", ID)
    clock.advance(seconds=60)
    assert not registry.is_self_preservation_active()


def test_a_zero_threshold_keeps_self_preservation_on(clock: ManualClock) -> None:
    registry = make(clock, renewal_percent_threshold=0.1)  # 1 client x 2 x 0.1 -> threshold 0
    registry.register(instance())
    assert registry.renewal_threshold() == 0
    for _ in range(3):
        registry.renew("ORDERS", ID)
    clock.advance(seconds=60)
    assert registry.is_self_preservation_active()


def _drop(registry: Registry, *numbers: int) -> None:
    """Leases gone without a cancel (another node's eviction over a shared store)."""
    for n in numbers:
        registry.store.mutate("ORDERS", instance(n).instance_id, lambda _: (Write(None), None))


def test_a_registry_shrunk_to_exactly_the_floor_keeps_its_threshold(clock: ManualClock) -> None:
    registry = make(clock, initial_expected_clients=0)
    for n in range(20):
        registry.register(instance(n))
    _drop(registry, 0, 1, 2)  # 17 left = 0.85 x 20: the drop self-preservation is for
    registry.update_renewal_threshold()
    assert registry.expected_clients == 20


def test_a_registry_shrunk_less_than_the_floor_adopts_its_size(clock: ManualClock) -> None:
    registry = make(clock, initial_expected_clients=0)
    for n in range(20):
        registry.register(instance(n))
    _drop(registry, 0, 1)
    registry.update_renewal_threshold()
    assert registry.expected_clients == 18
    assert registry.renewal_threshold() == 30  # 18 x 2 x 0.85


# -- eviction


def test_a_lease_is_evicted_one_millisecond_after_it_expires(clock: ManualClock) -> None:
    registry = make(clock, self_preservation=False)
    registry.register(instance())
    clock.advance(ms=90_001)
    assert [gone.instance_id for gone in registry.evict()] == [ID]


def test_a_lease_is_kept_until_its_duration_has_passed(clock: ManualClock) -> None:
    registry = make(clock, self_preservation=False)
    registry.register(instance())
    clock.advance(ms=90_000)
    assert registry.evict() == []


def test_a_timely_eviction_run_adds_no_grace(clock: ManualClock) -> None:
    registry = make(clock, self_preservation=False)
    registry.register(instance())
    clock.advance(ms=30_001)
    registry.evict()
    clock.advance(ms=60_000)  # exactly one eviction interval later: 90 001 ms after renewal
    assert [gone.instance_id for gone in registry.evict()] == [ID]


def test_evictions_add_up_in_the_total(clock: ManualClock) -> None:
    registry = make(clock, self_preservation=False)
    registry.register(instance(1))
    clock.advance(seconds=50)
    registry.register(instance(2))
    clock.advance(seconds=41)
    registry.evict()
    clock.advance(seconds=60)
    registry.evict()
    assert registry.evicted_total == 2


class _HeartbeatDuringScan(MemoryStore):
    """A store where a heartbeat lands right after the eviction scan took its snapshot."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock

    def snapshot(self) -> Snapshot:
        live = super().snapshot()
        # Copies: the memory store renews a record in place, a SQL store's snapshot is a copy.
        taken = Snapshot(live.sequence, [replace(r) for r in live.records])
        for record in taken.records:
            self.renew(record.app, record.instance_id, self.clock.now_ms())
        return taken

    def expired(self, before_ms: int) -> ExpiredLeases:
        # The eviction scan asks the store for the leases that ran out, not for a snapshot.
        live = super().expired(before_ms)
        taken = ExpiredLeases([replace(r) for r in live.records], live.total)
        for record in taken.records:
            self.renew(record.app, record.instance_id, self.clock.now_ms())
        return taken


def test_a_lease_renewed_during_the_eviction_scan_is_kept(clock: ManualClock) -> None:
    registry = make(clock, _HeartbeatDuringScan(clock), self_preservation=False)
    registry.register(instance())
    clock.advance(seconds=91)
    assert registry.evict() == []
    assert registry.get_instance("ORDERS", ID) is not None


class _FailingRemoval(MemoryStore):
    """A store whose removals fail, noting whether the collector ran while they were asked."""

    collector_on_during_removal: bool | None = None

    def remove_each(self, *args: Any, **kwargs: Any) -> list[Any]:
        self.collector_on_during_removal = gc.isenabled()
        raise RuntimeError("disk on fire")


@pytest.mark.usefixtures("collection_on")
def test_an_eviction_pass_holds_the_collector_off_and_turns_it_back_on_when_it_fails(
    clock: ManualClock,
) -> None:
    store = _FailingRemoval()
    registry = make(clock, store, self_preservation=False)
    registry.register(instance())
    clock.advance(seconds=91)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="disk on fire"):
        registry.evict()
    assert store.collector_on_during_removal is False
    assert gc.isenabled()


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update_status("ORDERS", ID, DOWN),
        lambda r: r.delete_status_override("ORDERS", ID, UP),
    ],
    ids=["update_status", "delete_status_override"],
)
def test_a_status_change_without_a_timestamp_lets_the_next_registration_win(
    registry: Registry, change: Callable[[Registry], object]
) -> None:
    # In-process instances default to lastDirtyTimestamp 0; a status change that names no
    # timestamp must not make the stored instance look newer than the client's next one.
    registry.register(instance(ldt=0, overridden_status=OOS))
    change(registry)
    stored = registry.register(instance(ldt=0, metadata={"zone": "b"}))
    assert stored.metadata == {"zone": "b"}


def test_the_maintenance_roll_closes_the_renewal_minute(
    registry: Registry, clock: ManualClock
) -> None:
    registry.register(instance())
    registry.renew("ORDERS", ID)
    clock.advance(seconds=60)
    registry.roll_renewal_rate()
    assert registry.renews_last_minute() == 1


def test_a_registration_under_another_application_is_refused_and_stores_nothing(
    registry: Registry,
) -> None:
    # The URL's application (POST apps/BILLING) must be the instance's own, in any case.
    with pytest.raises(ValidationError, match="BILLING"):
        registry.register(instance(), expected_app="billing")
    assert registry.get_instance("ORDERS", ID) is None
    assert registry.register(instance(), expected_app="orders").app == "ORDERS"
