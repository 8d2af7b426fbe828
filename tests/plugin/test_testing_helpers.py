"""eureka_embed.testing used directly: frozen time that runs maintenance, the factories."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eureka_embed.clock import ManualClock
from eureka_embed.config import RegistryConfig
from eureka_embed.model import InstanceInfo
from eureka_embed.registry import Registry
from eureka_embed.testing import (
    TESTING_CONFIG,
    RegistryTime,
    config_for_tests,
    http_client,
    live_server,
    memory_registry,
    sqlite_registry,
)
from tests.server.support import refuses_connections

ORDERS = InstanceInfo("h1:orders:8080", "ORDERS", "h1", "10.0.0.1")  # a 90 s lease


@pytest.fixture
def frozen() -> Iterator[RegistryTime]:
    with RegistryTime() as registry_time:
        yield registry_time


@pytest.fixture(params=["memory", "sqlite"])
def registry(
    request: pytest.FixtureRequest, frozen: RegistryTime, tmp_path: Path
) -> Iterator[Registry]:
    made = (
        memory_registry(clock=frozen.clock)
        if request.param == "memory"
        else sqlite_registry(tmp_path / "eureka.db", clock=frozen.clock)
    )
    frozen.attach(made)
    try:
        yield made
    finally:
        made.close()


def test_an_instance_that_never_renews_is_evicted_once_its_lease_is_over(
    frozen: RegistryTime, registry: Registry
) -> None:
    registry.register(ORDERS)

    frozen.advance(90)
    assert registry.get_application("ORDERS") is not None  # expires strictly after 90 s
    frozen.advance(1)

    assert registry.get_application("ORDERS") is None
    assert registry.evicted_total == 1


def test_heartbeats_keep_an_instance_through_an_hour(
    frozen: RegistryTime, registry: Registry
) -> None:
    registry.register(ORDERS)

    for _ in range(120):
        frozen.advance(30)
        assert registry.renew("ORDERS", ORDERS.instance_id).ok

    assert registry.get_instance("ORDERS", ORDERS.instance_id) is not None
    assert registry.evicted_total == 0


def test_eviction_waits_for_the_eviction_timer_as_the_real_one_would(
    frozen: RegistryTime,
) -> None:
    # Eureka's own cadence: evictions at 60 s, 120 s, ... after the registry started.
    registry = frozen.attach(memory_registry(config_for_tests(eviction_interval_ms=60_000)))
    registry.register(ORDERS)

    frozen.advance(91)
    assert registry.get_instance("ORDERS", ORDERS.instance_id) is None  # expired: hidden
    assert registry.get_application("ORDERS") is not None  # but not evicted until 120 s
    frozen.advance(29)

    assert registry.get_application("ORDERS") is None


def test_with_self_preservation_a_lone_unrenewed_instance_is_kept(frozen: RegistryTime) -> None:
    registry = frozen.attach(memory_registry(config_for_tests(self_preservation=True)))
    registry.register(ORDERS)

    frozen.advance(3600)

    # One expected client for the node itself plus the instance: 2 x 2 renewals a minute,
    # 85 % of which is 3. None arrive, so nothing may be evicted.
    assert registry.renewal_threshold() == 3
    assert registry.renews_last_minute() == 0
    assert registry.is_self_preservation_active()
    assert registry.get_application("ORDERS") is not None


def test_changes_leave_the_delta_and_the_change_log_after_three_minutes(
    frozen: RegistryTime,
) -> None:
    registry = frozen.attach(memory_registry())
    registry.register(ORDERS)
    assert len(list(registry.get_delta().instances())) == 1

    for _ in range(7):  # heartbeats are not changes
        frozen.advance(30)
        assert registry.renew("ORDERS", ORDERS.instance_id).ok

    assert list(registry.get_delta().instances()) == []
    assert registry.store.changes_since(0) == []  # pruned by the 30 s timer, not just hidden


def test_the_frozen_time_is_what_the_rest_of_the_process_sees(frozen: RegistryTime) -> None:
    before = frozen.now_ms()

    after = frozen.advance(1.5)

    assert after == before + 1500 == frozen.now_ms() == frozen.clock.now_ms()
    assert int(time.time() * 1000) == after
    assert frozen.now().microsecond == 500_000


def test_a_registry_on_the_default_clock_follows_the_frozen_time(frozen: RegistryTime) -> None:
    registry = frozen.attach(memory_registry())
    registry.register(ORDERS)

    frozen.advance(91)

    assert registry.get_application("ORDERS") is None


def test_stopping_gives_the_real_time_back() -> None:
    registry_time = RegistryTime("2001-01-01").start()
    assert time.time() == pytest.approx(978_307_200)
    registry_time.stop()
    registry_time.stop()

    assert time.time() > 1_600_000_000


def test_a_fixed_start_instant(tmp_path: Path) -> None:
    with RegistryTime("2030-06-01T12:00:00") as registry_time:
        registry = registry_time.attach(
            sqlite_registry(tmp_path / "e.db", clock=registry_time.clock)
        )
        try:
            stored = registry.register(ORDERS)
        finally:
            registry.close()

    assert stored.lease_info.registration_timestamp == 1_906_545_600_000


def test_a_registry_that_cannot_follow_the_frozen_time_is_refused(frozen: RegistryTime) -> None:
    with pytest.raises(ValueError, match="clock does not follow"):
        frozen.attach(Registry(clock=ManualClock()))


def test_a_registry_made_before_freezing_at_an_earlier_instant_is_refused() -> None:
    registry = memory_registry()
    with RegistryTime("2001-01-01") as registry_time, pytest.raises(ValueError, match="after"):
        registry_time.attach(registry)


def test_advance_refuses_going_back(frozen: RegistryTime) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        frozen.advance(-1)


def test_reading_the_time_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        RegistryTime().now_ms()


def test_a_detached_registry_is_no_longer_maintained(frozen: RegistryTime) -> None:
    registry = frozen.attach(memory_registry())
    registry.register(ORDERS)
    frozen.detach(registry)

    frozen.advance(3600)

    assert registry.get_application("ORDERS") is not None
    assert registry.evicted_total == 0


def test_config_for_tests_is_eurekas_but_for_self_preservation_and_eviction_pace() -> None:
    eureka = RegistryConfig()

    assert RegistryConfig(self_preservation=False, eviction_interval_ms=1_000) == TESTING_CONFIG
    assert eureka.self_preservation and eureka.eviction_interval_ms == 60_000
    assert config_for_tests(self_preservation=True).self_preservation
    assert memory_registry().config == TESTING_CONFIG


def test_the_sqlite_registry_keeps_its_data_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "eureka.db"
    first = sqlite_registry(path)
    first.register(ORDERS)
    first.close()

    second = sqlite_registry(path)
    try:
        assert second.get_instance("ORDERS", ORDERS.instance_id) is not None
    finally:
        second.close()


def test_a_live_server_serves_the_registry_and_is_gone_afterwards() -> None:
    threads_before = set(threading.enumerate())
    registry = memory_registry()
    with live_server(registry) as server, http_client(server.base_url) as client:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert client.register(ORDERS).status == 204
        assert registry.get_instance("ORDERS", ORDERS.instance_id) is not None
        port = server.port

    assert refuses_connections(port)
    assert set(threading.enumerate()) <= threads_before
    registry.close()


def test_a_live_server_under_frozen_time_expires_leases_over_http(frozen: RegistryTime) -> None:
    registry = frozen.attach(memory_registry(clock=frozen.clock))
    with live_server(registry, maintenance=False) as server, http_client(server.base_url) as client:
        assert client.register(ORDERS).status == 204
        frozen.advance(60)
        assert client.send_heartbeat("ORDERS", ORDERS.instance_id).status == 200
        frozen.advance(91)

        assert client.get_instance("ORDERS", ORDERS.instance_id).status == 404
        assert client.get_application("ORDERS").status == 404
    registry.close()
