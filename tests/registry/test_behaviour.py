"""The registry's behaviour per SPEC section 3, run against every store.

Time moves with freezegun: the registry reads the system clock, which freezegun controls.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from eureka_embed.config import RegistryConfig
from eureka_embed.errors import InstanceNotFound, InvalidInput, ValidationError
from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.model import ActionType, InstanceStatus, LeaseInfo
from eureka_embed.registry import Registry, RenewOutcome
from eureka_embed.storage import Store
from tests.registry.helpers import instance

UP = InstanceStatus.UP
DOWN = InstanceStatus.DOWN
OOS = InstanceStatus.OUT_OF_SERVICE
STARTING = InstanceStatus.STARTING
UNKNOWN = InstanceStatus.UNKNOWN

START = "2026-01-01 00:00:00"


@pytest.fixture
def frozen() -> Iterator[FrozenDateTimeFactory]:
    with freeze_time(START) as factory:
        assert isinstance(factory, FrozenDateTimeFactory)
        yield factory


def make(store: Store, **config: object) -> Registry:
    return Registry(store, RegistryConfig(**config), rng=random.Random(7))  # type: ignore[arg-type]


@pytest.fixture
def registry(store: Store, frozen: FrozenDateTimeFactory) -> Registry:
    return make(store)


def status_of(registry: Registry, n: int = 1, app: str = "ORDERS") -> InstanceStatus:
    found = registry.get_instance(app, instance(n, app).instance_id)
    assert found is not None
    return found.status


def renew(registry: Registry, n: int = 1, app: str = "ORDERS", **kw: object) -> RenewOutcome:
    return registry.renew(app, instance(n, app).instance_id, **kw).outcome  # type: ignore[arg-type]


# -- register


def test_register_stores_lease_and_marks_added(registry: Registry) -> None:
    stored = registry.register(instance(app="orders"))
    assert stored.app == "ORDERS"
    assert stored.action_type is ActionType.ADDED
    lease = stored.lease_info
    now = registry.clock.now_ms()
    assert lease.registration_timestamp == now
    assert lease.last_renewal_timestamp == now
    assert lease.service_up_timestamp == now
    assert stored.last_updated_timestamp == now
    assert registry.get_instance("orders", stored.instance_id) == stored


def test_missing_lease_duration_defaults_to_90_seconds(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    registry = make(store, self_preservation=False)
    stored = registry.register(instance(lease_info=LeaseInfo(duration_secs=0)))
    assert stored.lease_info.duration_secs == 90
    frozen.tick(timedelta(seconds=90))
    assert registry.get_instance("ORDERS", instance().instance_id) is not None
    frozen.tick(timedelta(milliseconds=1))
    assert registry.get_instance("ORDERS", instance().instance_id) is None


def test_reregistration_keeps_service_up_timestamp(
    registry: Registry, frozen: FrozenDateTimeFactory
) -> None:
    first = registry.register(instance())
    frozen.tick(timedelta(seconds=10))
    second = registry.register(instance(ldt=200))
    assert second.lease_info.service_up_timestamp == first.lease_info.service_up_timestamp
    assert second.lease_info.registration_timestamp == first.lease_info.registration_timestamp + (
        10_000
    )


def test_stored_newer_dirty_timestamp_wins_over_older_registration(registry: Registry) -> None:
    registry.register(instance(ldt=200, ip_addr="10.0.0.2"))
    kept = registry.register(instance(ldt=100, ip_addr="10.0.0.9"), replication=True)
    assert kept.ip_addr == "10.0.0.2"
    assert kept.last_dirty_timestamp == 200


def test_equal_dirty_timestamp_lets_the_incoming_registration_win(registry: Registry) -> None:
    registry.register(instance(ldt=200, ip_addr="10.0.0.2"))
    assert registry.register(instance(ldt=200, ip_addr="10.0.0.3")).ip_addr == "10.0.0.3"


def test_existing_up_lease_wins_over_reregistration_out_of_service(registry: Registry) -> None:
    registry.register(instance(status=UP))
    assert registry.register(instance(status=OOS, ldt=200)).status is UP


def test_replicated_registration_brings_its_own_status(registry: Registry) -> None:
    registry.register(instance(status=UP))
    assert registry.register(instance(status=OOS, ldt=200), replication=True).status is OOS


def test_incoming_overridden_status_is_recorded_and_applied(registry: Registry) -> None:
    stored = registry.register(instance(overridden_status=OOS))
    assert stored.status is OOS
    assert stored.overridden_status is OOS


def test_app_names_are_case_insensitive(registry: Registry) -> None:
    registry.register(instance(app="Orders"))
    assert registry.get_application("orders") is not None
    assert renew(registry, app="oRdErS") is RenewOutcome.OK


# -- overrides (Eureka's own scenarios)


def test_override_set_and_removal_sequence(registry: Registry) -> None:
    iid = instance().instance_id
    registry.register(instance(status=UP, ldt=100))
    registry.update_status("ORDERS", iid, OOS)
    assert status_of(registry) is OOS
    # The override outlives a re-registration with the client's own UP status.
    registry.register(instance(status=UP, ldt=200))
    assert status_of(registry) is OOS
    registry.delete_status_override("ORDERS", iid, DOWN)
    assert status_of(registry) is DOWN
    registry.register(instance(status=UP, ldt=300))
    assert status_of(registry) is UP


def test_deleting_override_without_value_forces_reregistration(registry: Registry) -> None:
    iid = instance().instance_id
    registry.register(instance())
    registry.update_status("ORDERS", iid, OOS)
    gone = registry.delete_status_override("ORDERS", iid)
    assert gone.status is UNKNOWN
    assert gone.overridden_status is UNKNOWN
    assert renew(registry) is RenewOutcome.NOT_FOUND
    registry.register(instance(ldt=gone.last_dirty_timestamp))
    assert status_of(registry) is UP
    assert renew(registry) is RenewOutcome.OK


def test_starting_beats_an_override(registry: Registry) -> None:
    registry.register(instance())
    registry.update_status("ORDERS", instance().instance_id, OOS)
    assert registry.register(instance(status=STARTING, ldt=200)).status is STARTING


def test_renew_reapplies_an_override_and_records_the_change(registry: Registry) -> None:
    registry.register(instance(status=UP))
    before = registry.sequence
    outcome = renew(registry, overridden_status=OOS, replication=True)
    assert outcome is RenewOutcome.OK
    assert status_of(registry) is OOS
    assert registry.sequence == before + 1
    delta = registry.get_delta()
    changed = next(delta.instances())
    assert changed.status is OOS
    assert changed.action_type is ActionType.MODIFIED


def test_status_update_records_override_and_dirty_timestamp(registry: Registry) -> None:
    registry.register(instance(ldt=100))
    updated = registry.update_status(
        "ORDERS", instance().instance_id, OOS, last_dirty_timestamp=500
    )
    assert updated.status is OOS
    assert updated.overridden_status is OOS
    assert updated.last_dirty_timestamp == 500
    assert updated.action_type is ActionType.MODIFIED
    older = registry.update_status("ORDERS", instance().instance_id, DOWN, last_dirty_timestamp=1)
    assert older.last_dirty_timestamp == 500


def test_status_update_to_same_status_records_nothing(registry: Registry) -> None:
    registry.register(instance())
    before = registry.sequence
    registry.update_status("ORDERS", instance().instance_id, UP)
    assert registry.sequence == before
    assert registry.register(instance(status=DOWN, ldt=200)).status is DOWN


def test_status_update_renews_the_lease(registry: Registry, frozen: FrozenDateTimeFactory) -> None:
    registry.register(instance())
    frozen.tick(timedelta(seconds=80))
    registry.update_status("ORDERS", instance().instance_id, OOS)
    found = registry.get_instance("ORDERS", instance().instance_id)
    assert found is not None
    assert found.lease_info.last_renewal_timestamp == registry.clock.now_ms()


def test_writes_to_unknown_instances_raise_instance_not_found(registry: Registry) -> None:
    with pytest.raises(InstanceNotFound):
        registry.update_status("ORDERS", "nope", OOS)
    with pytest.raises(InstanceNotFound):
        registry.delete_status_override("ORDERS", "nope")
    with pytest.raises(InstanceNotFound):
        registry.update_metadata("ORDERS", "nope", {"a": "b"})
    with pytest.raises(InstanceNotFound):
        registry.cancel("ORDERS", "nope")


# -- renew and lastDirtyTimestamp


def test_renew_unknown_is_not_found(registry: Registry) -> None:
    assert renew(registry) is RenewOutcome.NOT_FOUND


def test_renew_moves_last_renewal_but_not_the_change_sequence(
    registry: Registry, frozen: FrozenDateTimeFactory
) -> None:
    registry.register(instance())
    before = registry.sequence
    frozen.tick(timedelta(seconds=30))
    assert renew(registry) is RenewOutcome.OK
    found = registry.get_instance("ORDERS", instance().instance_id)
    assert found is not None
    assert found.lease_info.last_renewal_timestamp == registry.clock.now_ms()
    assert registry.sequence == before


@pytest.mark.parametrize(
    ("incoming", "replication", "expected"),
    [
        (200, False, RenewOutcome.NOT_FOUND),
        (200, True, RenewOutcome.NOT_FOUND),
        (50, True, RenewOutcome.CONFLICT),
        (50, False, RenewOutcome.OK),
        (100, True, RenewOutcome.OK),
        (None, True, RenewOutcome.OK),
    ],
)
def test_renew_dirty_timestamp_outcomes(
    registry: Registry, incoming: int | None, replication: bool, expected: RenewOutcome
) -> None:
    registry.register(instance(ldt=100))
    result = registry.renew(
        "ORDERS", instance().instance_id, last_dirty_timestamp=incoming, replication=replication
    )
    assert result.outcome is expected
    if expected is RenewOutcome.CONFLICT:
        assert result.instance is not None
        assert result.instance.last_dirty_timestamp == 100


def test_renew_ignores_dirty_timestamps_when_configured(store: Store, frozen: object) -> None:
    registry = make(store, sync_when_timestamp_differs=False)
    registry.register(instance(ldt=100))
    assert renew(registry, last_dirty_timestamp=999) is RenewOutcome.OK


# -- cancel, metadata


def test_cancel_removes_lease_and_override(registry: Registry) -> None:
    iid = instance().instance_id
    registry.register(instance())
    registry.update_status("ORDERS", iid, OOS)
    removed = registry.cancel("ORDERS", iid)
    assert removed.action_type is ActionType.DELETED
    assert registry.get_instance("ORDERS", iid) is None
    assert registry.get_application("ORDERS") is None
    assert registry.register(instance(ldt=500)).status is UP
    deleted = [i for i in registry.get_delta().instances() if i.action_type is ActionType.DELETED]
    assert deleted == []  # re-registered since: the delta shows its latest state only


def test_cancel_shows_deleted_in_delta(registry: Registry) -> None:
    registry.register(instance(1))
    registry.register(instance(2))
    registry.cancel("ORDERS", instance(1).instance_id)
    delta = {i.instance_id: i.action_type for i in registry.get_delta().instances()}
    assert delta == {
        instance(1).instance_id: ActionType.DELETED,
        instance(2).instance_id: (ActionType.ADDED),
    }
    assert registry.get_delta().apps_hashcode == "UP_1_"


def test_metadata_update_merges_and_counts_as_registration(registry: Registry) -> None:
    registry.register(instance(metadata={"zone": "a", "keep": "1"}))
    events: list[RegistryEvent] = []
    registry.add_listener(events.append)
    updated = registry.update_metadata("ORDERS", instance().instance_id, {"zone": "b", "x": "y"})
    assert dict(updated.metadata) == {"zone": "b", "keep": "1", "x": "y"}
    assert [e.action for e in events] == [WriteAction.REGISTER]
    assert registry.expected_clients == 2  # not a new client


def test_metadata_update_rejects_non_string_values(registry: Registry) -> None:
    registry.register(instance())
    with pytest.raises(InvalidInput):
        registry.update_metadata("ORDERS", instance().instance_id, {"a": 1})  # type: ignore[dict-item]


# -- reads


def test_hashcode_counts_by_status(registry: Registry) -> None:
    assert registry.apps_hashcode() == ""
    registry.register(instance(1))
    assert registry.apps_hashcode() == "UP_1_"
    registry.register(instance(2, "BILLING"))
    assert registry.apps_hashcode() == "UP_2_"
    registry.register(instance(3, status=DOWN))
    registry.update_status("BILLING", instance(2, "BILLING").instance_id, OOS)
    assert registry.apps_hashcode() == "DOWN_1_OUT_OF_SERVICE_1_UP_1_"
    assert registry.get_applications().apps_hashcode == "DOWN_1_OUT_OF_SERVICE_1_UP_1_"


def test_full_registry_groups_by_app_and_carries_sequence(registry: Registry) -> None:
    registry.register(instance(2, "ORDERS"))
    registry.register(instance(1, "ORDERS"))
    registry.register(instance(1, "BILLING"))
    apps = registry.get_applications()
    assert [a.name for a in apps] == ["BILLING", "ORDERS"]
    orders = apps.get("orders")
    assert orders is not None
    assert [i.host_name for i in orders] == ["host1", "host2"]
    assert apps.version == str(registry.sequence)


def test_find_instance_by_id_alone(registry: Registry) -> None:
    registry.register(instance(1, "BILLING"))
    found = registry.find_instance(instance(1, "BILLING").instance_id)
    assert found is not None
    assert found.app == "BILLING"
    assert registry.find_instance("missing") is None


def test_vip_lookups_split_comma_lists(registry: Registry) -> None:
    registry.register(instance(1, vip_address="orders, orders-v2", secure_vip_address="s-orders"))
    registry.register(instance(2, vip_address="orders-v2"))
    registry.register(instance(3, vip_address="ordersx"))
    assert {i.host_name for i in registry.get_vip("orders-v2").instances()} == {"host1", "host2"}
    assert {i.host_name for i in registry.get_vip("ORDERS").instances()} == {"host1"}
    assert {i.host_name for i in registry.get_secure_vip("s-orders").instances()} == {"host1"}
    unknown = registry.get_vip("nothing")
    assert list(unknown.instances()) == []
    assert unknown.version == "-1"


def test_delta_keeps_three_minutes_of_changes(
    registry: Registry, frozen: FrozenDateTimeFactory
) -> None:
    registry.register(instance(1))
    frozen.tick(timedelta(minutes=2))
    registry.register(instance(2))
    frozen.tick(timedelta(minutes=1, seconds=1))
    assert [i.host_name for i in registry.get_delta().instances()] == ["host2"]
    assert registry.prune_changes() == 1
    assert registry.get_delta().apps_hashcode == "UP_2_"


def test_delta_shows_each_instance_once_in_its_latest_state(registry: Registry) -> None:
    registry.register(instance(1))
    registry.update_status("ORDERS", instance(1).instance_id, OOS)
    registry.update_status("ORDERS", instance(1).instance_id, DOWN)
    changes = list(registry.get_delta().instances())
    assert len(changes) == 1
    assert changes[0].status is DOWN
    assert changes[0].action_type is ActionType.MODIFIED


def test_every_change_moves_the_sequence(registry: Registry) -> None:
    iid = instance().instance_id
    seen = [registry.sequence]
    registry.register(instance())
    seen.append(registry.sequence)
    registry.update_status("ORDERS", iid, OOS)
    seen.append(registry.sequence)
    registry.delete_status_override("ORDERS", iid, UP)
    seen.append(registry.sequence)
    registry.update_metadata("ORDERS", iid, {"a": "b"})
    seen.append(registry.sequence)
    registry.cancel("ORDERS", iid)
    seen.append(registry.sequence)
    assert seen == sorted(set(seen))


# -- leases, eviction, self-preservation


def test_lease_expires_at_last_renewal_plus_duration(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    registry = make(store, self_preservation=False)
    registry.register(instance())
    frozen.tick(timedelta(seconds=60))
    renew(registry)
    frozen.tick(timedelta(seconds=90))
    assert registry.evict() == []
    assert registry.get_instance("ORDERS", instance().instance_id) is not None
    frozen.tick(timedelta(seconds=1))
    assert registry.get_instance("ORDERS", instance().instance_id) is None
    # Eureka would keep it until 2 x 90 s after the renewal; we evict it now.
    assert [i.instance_id for i in registry.evict()] == [instance().instance_id]
    assert registry.get_application("ORDERS") is None


def test_evicted_instance_is_deleted_in_delta_with_eviction_timestamp(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    registry = make(store, self_preservation=False)
    registry.register(instance())
    frozen.tick(timedelta(seconds=91))
    registry.evict()
    (gone,) = registry.get_delta().instances()
    assert gone.action_type is ActionType.DELETED
    assert gone.lease_info.eviction_timestamp == registry.clock.now_ms()


def test_eviction_decrements_expected_clients(store: Store, frozen: FrozenDateTimeFactory) -> None:
    registry = make(store, self_preservation=False)
    for n in range(4):
        registry.register(instance(n))
    assert registry.expected_clients == 5
    frozen.tick(timedelta(seconds=91))
    registry.evict()
    assert registry.expected_clients == 4
    assert registry.renewal_threshold() == int(4 * 2 * 0.85)


def test_cancel_decrements_expected_clients(registry: Registry) -> None:
    registry.register(instance(1))
    registry.register(instance(2))
    assert registry.expected_clients == 3
    registry.cancel("ORDERS", instance(1).instance_id)
    assert registry.expected_clients == 2
    assert registry.renewal_threshold() == 3


def _renew_all(registry: Registry, hosts: range) -> None:
    for n in hosts:
        assert renew(registry, n) is RenewOutcome.OK


def test_self_preservation_50_instances_45_renewing(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    registry = make(store)
    for n in range(50):
        registry.register(instance(n))
    assert registry.renewal_threshold() == int(51 * 2 * 0.85)
    # Nothing measured yet: expiration is off.
    assert not registry.is_lease_expiration_enabled()
    # 45 clients renew every 30 s (at 20 s and 50 s of each minute); 5 are gone.
    frozen.tick(timedelta(seconds=20))
    _renew_all(registry, range(45))
    frozen.tick(timedelta(seconds=30))
    _renew_all(registry, range(45))
    assert not registry.is_lease_expiration_enabled()  # the minute is not over yet
    frozen.tick(timedelta(seconds=10))
    assert registry.renews_last_minute() == 90
    assert registry.is_lease_expiration_enabled()
    frozen.tick(timedelta(seconds=20))
    _renew_all(registry, range(45))
    frozen.tick(timedelta(seconds=30))
    _renew_all(registry, range(45))
    frozen.tick(timedelta(seconds=11))  # the dead five last renewed 121 s ago
    evicted = registry.evict()
    assert len(evicted) == 5
    assert {i.host_name for i in evicted} == {f"host{n}" for n in range(45, 50)}
    assert len(list(registry.get_applications().instances())) == 45


def test_self_preservation_keeps_expired_leases_when_renewals_collapse(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    registry = make(store)
    for n in range(20):
        registry.register(instance(n))
    for _ in range(4):
        frozen.tick(timedelta(seconds=30))
        _renew_all(registry, range(20))
    frozen.tick(timedelta(seconds=1))
    assert registry.is_lease_expiration_enabled()
    # A partition: only 5 of 20 still renew.
    for _ in range(6):
        frozen.tick(timedelta(seconds=30))
        _renew_all(registry, range(5))
    assert registry.is_self_preservation_active()
    assert registry.evict() == []
    assert len(list(registry.get_applications().instances())) == 20


def test_standalone_registry_expires_leases_from_the_start(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    # A standalone node counts itself as one expected client (Spring Cloud does the same); with
    # Eureka's 0, the threshold stays 0 and nothing expires until the 15-minute update task.
    registry = make(store)
    assert registry.renewal_threshold() > 0
    for n in range(20):
        registry.register(instance(n))
    for _ in range(4):
        frozen.tick(timedelta(seconds=30))
        _renew_all(registry, range(19))
    frozen.tick(timedelta(seconds=1))
    assert [i.host_name for i in registry.evict()] == ["host19"]


def test_eviction_is_capped_at_15_percent_per_run(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    registry = make(store, self_preservation=False)
    for n in range(100):
        registry.register(instance(n))
    frozen.tick(timedelta(seconds=60))
    _renew_all(registry, range(70))
    frozen.tick(timedelta(seconds=31))
    assert len(registry.evict()) == 15
    frozen.tick(timedelta(seconds=30))
    _renew_all(registry, range(70))
    frozen.tick(timedelta(seconds=30))
    assert len(registry.evict()) == 85 - int(85 * 0.85)
    survivors = {i.host_name for i in registry.get_applications().instances()}
    assert {f"host{n}" for n in range(70)} <= survivors


def test_late_eviction_timer_gives_leases_the_lateness(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    registry = make(store, self_preservation=False)
    registry.evict()  # the timer's first run
    registry.register(instance())
    # The next run is 40 s late; the lease is 10 s past its expiry but gets the 40 s.
    frozen.tick(timedelta(seconds=100))
    assert registry.evict() == []
    # The run after is on time: no compensation, and the lease goes.
    frozen.tick(timedelta(seconds=60))
    assert len(registry.evict()) == 1


def test_renewal_threshold_update_follows_registry_size(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    registry = make(store)
    for n in range(12):
        registry.register(instance(n))
    assert registry.expected_clients == 13
    registry.update_renewal_threshold()
    assert registry.expected_clients == 12
    registry.open_for_traffic(100)
    registry.update_renewal_threshold()  # 12 of 100 expected: a collapse, not adopted
    assert registry.expected_clients == 100


# -- listeners


def test_listeners_see_writes_with_their_replication_flag(registry: Registry) -> None:
    events: list[RegistryEvent] = []
    registry.add_listener(events.append)
    iid = instance().instance_id
    registry.register(instance(), replication=True)
    registry.renew("ORDERS", iid)
    registry.update_status("ORDERS", iid, OOS)
    registry.delete_status_override("ORDERS", iid, UP, replication=True)
    registry.cancel("ORDERS", iid)
    assert [(e.action, e.replication) for e in events] == [
        (WriteAction.REGISTER, True),
        (WriteAction.HEARTBEAT, False),
        (WriteAction.STATUS_UPDATE, False),
        (WriteAction.DELETE_STATUS_OVERRIDE, True),
        (WriteAction.CANCEL, False),
    ]
    assert events[2].status is OOS


def test_failing_listener_does_not_fail_the_write(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: RegistryEvent) -> None:
        raise RuntimeError("boom")

    registry.add_listener(broken)
    registry.register(instance())
    assert registry.get_instance("ORDERS", instance().instance_id) is not None
    assert "listener" in caplog.text
    registry.remove_listener(broken)
    registry.cancel("ORDERS", instance().instance_id)


def test_restored_leases_get_one_renewal_window_of_grace(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    first = make(store, self_preservation=False)
    first.register(instance(1))
    # The node is down for ten minutes; its store keeps the lease that could not renew.
    frozen.tick(timedelta(minutes=10))
    restarted = make(store, self_preservation=False)
    assert restarted.expected_clients == 2  # itself, and the restored lease
    assert restarted.evict() == []
    assert restarted.get_instance("ORDERS", instance(1).instance_id) is not None
    frozen.tick(timedelta(seconds=60))
    assert restarted.evict() == []
    frozen.tick(timedelta(seconds=31))  # 91 s after the restart, with no renewal
    assert [i.host_name for i in restarted.evict()] == ["host1"]


def test_a_late_run_adds_the_lateness_to_a_restored_leases_grace(
    store: Store, frozen: FrozenDateTimeFactory
) -> None:
    first = make(store, self_preservation=False)
    first.register(instance(1))
    frozen.tick(timedelta(seconds=50))  # the node restarts over a lease 50 s old
    restarted = make(store, self_preservation=False)
    restarted.evict()  # the timer's first run
    # 100 s on, 40 s late: 10 s past the grace of 90 s from the restart, with 40 s of lateness.
    frozen.tick(timedelta(seconds=100))
    assert restarted.evict() == []
    frozen.tick(timedelta(seconds=60))  # on time: no lateness, and the lease goes
    assert [i.host_name for i in restarted.evict()] == ["host1"]


def test_eviction_listeners_get_what_was_evicted_and_a_failing_one_is_logged(
    store: Store, frozen: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    registry = make(store, self_preservation=False)
    registry.register(instance(1))
    heard: list[list[str]] = []

    def broken(evicted: object) -> None:
        raise RuntimeError("boom")

    registry.add_eviction_listener(broken)
    registry.add_eviction_listener(lambda evicted: heard.append([i.host_name for i in evicted]))
    frozen.tick(timedelta(seconds=91))
    evicted = registry.evict()
    assert [(i.host_name, i.action_type) for i in evicted] == [("host1", ActionType.DELETED)]
    assert heard == [["host1"]]  # the one after the failing listener still heard
    failed = [r for r in caplog.records if r.exc_info is not None]
    assert [r.getMessage() for r in failed] == [f"eviction listener {broken!r} failed"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"instance_id": ""}, "instanceId is missing"),
        ({"app": " "}, "app is missing"),
        ({"host_name": ""}, "hostName is missing"),
        ({"ip_addr": ""}, "ipAddr is missing"),
        ({"metadata": {"bad key": "v"}}, "not allowed"),
        ({"home_page_url": "http://h/\x01"}, "XML cannot carry"),
    ],
)
def test_an_in_process_registration_that_breaks_a_register_rule_is_refused(
    registry: Registry, changes: dict[str, object], reason: str
) -> None:
    registry.register(instance(2))
    before = registry.sequence
    with pytest.raises(ValidationError, match=reason):
        registry.register(instance(**changes))  # type: ignore[arg-type]
    assert registry.sequence == before
    assert [i.host_name for i in registry.get_applications().instances()] == ["host2"]


def test_an_in_process_metadata_update_is_checked_like_a_registration(registry: Registry) -> None:
    registry.register(instance(metadata={"zone": "a"}))
    with pytest.raises(ValidationError, match="not allowed"):
        registry.update_metadata("ORDERS", instance().instance_id, {"1bad": "x"})
    found = registry.get_instance("ORDERS", instance().instance_id)
    assert found is not None
    assert dict(found.metadata) == {"zone": "a"}


# -- keys every store can hold (bug 9)

LONGEST_ID = "i" * 254 + "\U0001f600"  # 255 characters, 258 bytes in UTF-8
TOO_LONG = "x" * 256


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"instance_id": TOO_LONG},
            "instance.instanceId is 256 characters long; at most 255 are allowed",
        ),
        (
            {"app": "A" * 300, "instance_id": "i"},
            "instance.app is 300 characters long; at most 255 are allowed",
        ),
    ],
)
def test_an_id_or_app_name_longer_than_any_store_holds_is_refused_in_every_store(
    registry: Registry, changes: dict[str, object], reason: str
) -> None:
    before = registry.sequence
    with pytest.raises(ValidationError) as caught:
        registry.register(instance(**changes))  # type: ignore[arg-type]
    assert caught.value.reason == reason
    assert registry.sequence == before
    assert registry.get_applications().applications == ()


def test_the_longest_id_and_app_name_are_stored_and_found_in_every_store(
    registry: Registry,
) -> None:
    app = "Ä" * 255
    registry.register(instance(instance_id=LONGEST_ID, app=app))
    found = registry.get_instance(app, LONGEST_ID)
    assert found is not None
    assert (found.instance_id, found.app) == (LONGEST_ID, app)
    assert registry.renew("ORDERS", LONGEST_ID).outcome is RenewOutcome.NOT_FOUND  # other app
    assert registry.renew(app, LONGEST_ID).outcome is RenewOutcome.OK


def test_writes_on_an_id_no_store_can_hold_find_nothing_in_every_store(
    registry: Registry,
) -> None:
    registry.register(instance(1))
    for app, instance_id in (("ORDERS", TOO_LONG), ("A" * 300, instance(1).instance_id)):
        assert registry.renew(app, instance_id).outcome is RenewOutcome.NOT_FOUND
        assert registry.get_instance(app, instance_id) is None
        writes: list[Callable[[str, str], object]] = [
            registry.cancel,
            lambda a, i: registry.update_status(a, i, DOWN),
            registry.delete_status_override,
            lambda a, i: registry.update_metadata(a, i, {"k": "v"}),
        ]
        for write in writes:
            with pytest.raises(InstanceNotFound):
                write(app, instance_id)
    assert status_of(registry) is UP
