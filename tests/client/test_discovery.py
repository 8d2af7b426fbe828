"""DiscoveryClient driven deterministically: manual clock and scheduler, in-process registry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

import pytest

from eureka_embed.client import (
    CacheRefreshed,
    DiscoveryClient,
    DiscoveryConfig,
    InProcessEurekaClient,
    ManualScheduler,
    RequestKind,
)
from eureka_embed.client.discovery import HealthCheck
from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from tests.client.support import Tap, instance, wrong_delta_hashcode_once

ME = "host1:orders:8080"


BASE_CONFIG = DiscoveryConfig(
    "orders", host_name="host1", ip_addr="10.0.0.1", port=8080, metadata={"version": "1.2"}
)


@dataclass
class Rig:
    clock: ManualClock
    registry: Registry
    scheduler: ManualScheduler
    registration: Tap
    query: Tap
    client: DiscoveryClient

    def advance(self, seconds: float) -> None:
        self.scheduler.advance(seconds)


class MakeRig(Protocol):
    def __call__(
        self,
        registry: Registry | None = None,
        health_check: HealthCheck | None = None,
        start: bool = True,
        config: DiscoveryConfig = BASE_CONFIG,
    ) -> Rig: ...


@pytest.fixture
def make_rig(clock: ManualClock) -> Iterator[MakeRig]:
    made: list[DiscoveryClient] = []

    def make(
        registry: Registry | None = None,
        health_check: HealthCheck | None = None,
        start: bool = True,
        config: DiscoveryConfig = BASE_CONFIG,
    ) -> Rig:
        registry = registry if registry is not None else Registry(clock=clock)
        scheduler = ManualScheduler(clock)
        registration = Tap(InProcessEurekaClient(registry))
        query = Tap(InProcessEurekaClient(registry))
        client = DiscoveryClient(
            config,
            registration_client=registration,
            query_client=query,
            health_check=health_check,
            scheduler=scheduler,
            clock=clock,
        )
        made.append(client)
        if start:
            client.start()
        return Rig(clock, registry, scheduler, registration, query, client)

    yield make
    for client in made:
        client.shutdown()


def test_start_registers_this_instance_and_fetches_the_registry(make_rig: MakeRig) -> None:
    rig = make_rig()

    stored = rig.registry.get_instance("ORDERS", ME)
    assert stored is not None
    assert (stored.host_name, stored.ip_addr, stored.port.port) == ("host1", "10.0.0.1", 8080)
    assert stored.vip_address == "orders"
    assert stored.metadata == {"version": "1.2"}
    assert [i.instance_id for i in rig.client.get_instances("orders")] == [ME]
    assert rig.client.stats().registrations == 1


def test_heartbeats_renew_the_lease_every_interval(make_rig: MakeRig) -> None:
    rig = make_rig()
    started = rig.clock.now_ms()

    rig.advance(301)

    stored = rig.registry.get_instance("ORDERS", ME)
    assert stored is not None
    assert stored.lease_info.last_renewal_timestamp == started + 300_000
    assert rig.registration.count(RequestKind.HEARTBEAT) == 10
    assert rig.client.stats().heartbeats == 10


def test_a_heartbeat_answered_404_registers_again(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.registry.cancel("ORDERS", ME)  # the server forgets us behind our back

    rig.advance(30)

    assert rig.registry.get_instance("ORDERS", ME) is not None
    stats = rig.client.stats()
    assert (stats.reregistrations, stats.registrations) == (1, 2)


def test_heartbeat_backs_off_while_the_server_is_down_and_recovers(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.registration.down = True

    rig.advance(30 + 60 + 120 + 240 + 300)
    beats_while_down = rig.registration.count(RequestKind.HEARTBEAT)
    assert rig.client.stats().heartbeat_delay_s == 300, "doubling up to 10 x 30 s"
    assert beats_while_down == 5, "tries at 30, 90, 210, 450 and 750 s"

    rig.registration.down = False
    rig.advance(300)

    assert rig.client.stats().heartbeat_delay_s == 30
    assert rig.client.stats().heartbeat_failures == 5
    assert rig.client.stats().heartbeats >= 1


def test_refresh_merges_deltas_and_tells_listeners(make_rig: MakeRig) -> None:
    rig = make_rig()
    events: list[CacheRefreshed] = []
    rig.client.add_listener(events.append)
    rig.registry.register(instance(2, app="PAYMENTS"))

    rig.advance(30)

    assert [i.host_name for i in rig.client.get_instances("payments")] == ["host2"]
    stats = rig.client.stats()
    assert (stats.full_fetches, stats.delta_fetches) == (1, 1)
    assert [e.full_fetch for e in events] == [False]
    assert len(events[0].view) == 2


def test_no_listener_call_when_nothing_changed(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.advance(30)  # our own registration is still in the delta window
    events: list[CacheRefreshed] = []
    rig.client.add_listener(events.append)

    rig.advance(200)  # past the delta window: empty deltas

    assert rig.client.stats().delta_fetches >= 5
    assert events == []


def test_a_hashcode_mismatch_after_a_merge_leads_to_a_full_fetch(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.registry.register(instance(2))
    wrong_delta_hashcode_once(rig.query)

    rig.advance(30)

    stats = rig.client.stats()
    assert stats.reconcile_mismatches == 1
    assert stats.full_fetches == 2
    assert rig.query.calls[-2:] == [RequestKind.GET_DELTA, RequestKind.GET_APPLICATIONS]
    assert rig.client.applications().apps_hashcode == rig.registry.apps_hashcode()


def test_a_failed_delta_leads_to_a_full_fetch(clock: ManualClock, make_rig: MakeRig) -> None:
    registry = Registry(config=RegistryConfig(delta_enabled=False), clock=clock)
    rig = make_rig(registry)
    registry.register(instance(2))

    rig.advance(30)

    assert rig.query.calls[-2:] == [RequestKind.GET_DELTA, RequestKind.GET_APPLICATIONS]
    assert len(rig.client.get_instances("orders")) == 2


def test_refresh_backs_off_while_the_server_is_down(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.query.down = True

    rig.advance(30 + 60 + 120)

    assert rig.client.stats().fetch_delay_s == 240
    assert rig.client.stats().fetch_failures == 3
    assert [i.instance_id for i in rig.client.get_instances("orders")] == [ME], "cache kept"


def test_lookups_only_read_the_cache(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.registry.register(instance(2))
    rig.registry.register(instance(3, status=InstanceStatus.DOWN))
    rig.client.refresh()
    requests_before = len(rig.query.calls)
    rig.query.down = True

    up = rig.client.get_instances("orders")
    everything = rig.client.get_instances("ORDERS", include_all=True)
    by_vip = rig.client.get_instances_by_vip("orders")

    assert len(rig.query.calls) == requests_before
    assert sorted(i.host_name for i in up) == ["host1", "host2"]
    assert len(everything) == 3
    assert sorted(i.host_name for i in by_vip) == ["host1", "host2"]
    assert rig.client.get_instances("nothing") == ()


def test_next_server_goes_round_robin_over_up_instances(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.registry.register(instance(2))
    rig.registry.register(instance(3, status=InstanceStatus.DOWN))
    rig.client.refresh()

    picks = [rig.client.next_server("orders") for _ in range(4)]

    assert [p.host_name if p else None for p in picks] == ["host1", "host2", "host1", "host2"]
    assert rig.client.next_server("unknown") is None


def test_status_changes_are_pushed_at_once_within_the_rate_limit(make_rig: MakeRig) -> None:
    rig = make_rig()

    rig.client.set_status(InstanceStatus.DOWN)
    rig.scheduler.run_pending()
    stored = rig.registry.get_instance("ORDERS", ME)
    assert stored is not None and stored.status is InstanceStatus.DOWN

    rig.client.set_status(InstanceStatus.UP)
    rig.scheduler.run_pending()
    rig.client.set_status(InstanceStatus.DOWN)  # the burst of two is spent
    rig.scheduler.run_pending()
    stored = rig.registry.get_instance("ORDERS", ME)
    assert stored is not None and stored.status is InstanceStatus.UP
    assert rig.client.stats().status_pushes_rate_limited == 1

    rig.advance(30)  # the periodic instance check sends what is pending
    stored = rig.registry.get_instance("ORDERS", ME)
    assert stored is not None and stored.status is InstanceStatus.DOWN


def test_the_health_check_drives_the_status(make_rig: MakeRig) -> None:
    healthy = {"now": True}
    rig = make_rig(health_check=lambda: healthy["now"])

    healthy["now"] = False
    rig.advance(30)
    stored = rig.registry.get_instance("ORDERS", ME)
    assert stored is not None and stored.status is InstanceStatus.DOWN

    healthy["now"] = True
    rig.advance(30)
    stored = rig.registry.get_instance("ORDERS", ME)
    assert stored is not None and stored.status is InstanceStatus.UP


def test_a_failing_health_check_reports_down(make_rig: MakeRig) -> None:
    def broken() -> bool:
        raise RuntimeError("database unreachable")

    rig = make_rig(health_check=broken)
    rig.advance(30)

    assert rig.client.instance.status is InstanceStatus.DOWN


def test_a_registration_that_failed_at_start_is_retried(make_rig: MakeRig) -> None:
    rig = make_rig(start=False)
    rig.registration.down = True
    rig.client.start()
    assert rig.registry.get_instance("ORDERS", ME) is None
    rig.registration.down = False

    rig.advance(30)

    assert rig.registry.get_instance("ORDERS", ME) is not None


def test_initial_delay_postpones_the_registration(make_rig: MakeRig) -> None:
    rig = make_rig(config=replace(BASE_CONFIG, initial_delay_s=10))
    assert rig.registry.get_instance("ORDERS", ME) is None

    rig.advance(10)

    assert rig.registry.get_instance("ORDERS", ME) is not None


def test_shutdown_marks_down_cancels_and_stops_every_task(make_rig: MakeRig) -> None:
    rig = make_rig()

    rig.client.shutdown()

    assert rig.client.instance.status is InstanceStatus.DOWN
    assert rig.registry.get_instance("ORDERS", ME) is None
    assert rig.scheduler.next_due_in() is None
    rig.client.shutdown()  # idempotent
    assert rig.registration.count(RequestKind.CANCEL) == 1


def test_a_query_only_client_neither_registers_nor_cancels(make_rig: MakeRig) -> None:
    rig = make_rig(config=replace(BASE_CONFIG, register_with_eureka=False))
    rig.advance(60)
    rig.client.shutdown()

    assert rig.registration.calls == []
    # With nothing registered the copy stays empty, and an empty copy is fetched in full.
    stats = rig.client.stats()
    assert (stats.full_fetches, stats.delta_fetches) == (3, 0)


def test_in_process_client_with_real_threads_starts_and_stops_them(registry: Registry) -> None:
    with DiscoveryClient.in_process(BASE_CONFIG, registry) as client:
        assert registry.get_instance("ORDERS", ME) is not None
        assert [i.instance_id for i in client.get_instances("orders")] == [ME]

    assert registry.get_instance("ORDERS", ME) is None


def test_config_defaults_are_eurekas() -> None:
    config = DiscoveryConfig("orders")

    assert (config.lease_renewal_interval_s, config.lease_duration_s) == (30, 90)
    assert config.registry_fetch_interval_s == 30
    assert (config.heartbeat_backoff_bound, config.fetch_backoff_bound) == (10, 10)
    transport = config.transport
    assert (transport.connect_timeout_s, transport.read_timeout_s) == (5, 8)
    assert (transport.max_tries, transport.max_redirects) == (3, 10)
    assert transport.reconnect_interval_s == 1200
    assert transport.quarantine_refresh_fraction == 0.66
    assert (config.watch, config.watch_wait_s) == (True, 30)


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="lease_renewal_interval_s"):
        DiscoveryConfig("orders", lease_renewal_interval_s=0)
    with pytest.raises(ValueError, match="app_name"):
        DiscoveryConfig(" ")
    for wait_s in (0, 300.5):
        with pytest.raises(ValueError, match="watch_wait_s"):
            DiscoveryConfig("orders", watch_wait_s=wait_s)


def test_in_process_the_client_polls_as_its_answers_carry_no_index(make_rig: MakeRig) -> None:
    rig = make_rig()
    assert rig.client.config.watch
    rig.registry.register(instance(5, app="OTHER"))

    rig.advance(30)

    assert rig.client.get_instances("other")
    assert rig.query.count(RequestKind.GET_DELTA) == 1
    assert rig.query.count(RequestKind.GET_DELTA_WATCH) == 0
    assert rig.client.stats().watch_wakeups == 0
