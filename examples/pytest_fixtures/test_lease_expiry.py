"""Lease expiry, told in frozen time with the eureka_embed pytest fixtures.

Run it (the plugin comes with the package; the ``testing`` extra brings what it needs)::

    python -m pip install -e ".[testing]"
    python -m pytest examples/pytest_fixtures

``eureka_time.advance(seconds)`` moves the frozen clock and runs the registries' maintenance
(eviction, delta pruning, ...) at the instants its timers would fire; the test registries evict
every second and have self-preservation off, so "90 s lease, 91 s of silence" means "gone".
"""

from __future__ import annotations

from registry_file import RegistryFile

from eureka_embed.client import EurekaHttpClient
from eureka_embed.model import InstanceInfo
from eureka_embed.registry import Registry
from eureka_embed.testing import RegistryTime


def test_heartbeats_keep_a_lease_and_silence_ends_it(
    eureka_sqlite_registry: Registry, eureka_time: RegistryTime, orders: InstanceInfo
) -> None:
    eureka_sqlite_registry.register(orders)
    for _ in range(10):  # five minutes of heartbeats
        eureka_time.advance(30)
        assert eureka_sqlite_registry.renew("ORDERS", orders.instance_id).ok

    eureka_time.advance(90)
    assert eureka_sqlite_registry.get_application("ORDERS") is not None
    eureka_time.advance(1)

    assert eureka_sqlite_registry.get_application("ORDERS") is None


def test_a_client_over_http_sees_the_same(
    eureka_client: EurekaHttpClient, eureka_time: RegistryTime, orders: InstanceInfo
) -> None:
    assert eureka_client.register(orders).status == 204

    eureka_time.advance(91)

    assert eureka_client.get_instance("ORDERS", orders.instance_id).status == 404
    assert eureka_client.send_heartbeat("ORDERS", orders.instance_id).status == 404  # re-register


def test_a_restarted_registry_gives_leases_one_renewal_window(
    registry_file: RegistryFile, eureka_time: RegistryTime, orders: InstanceInfo
) -> None:
    before = registry_file.open()
    before.register(orders)

    # Down for ten minutes, so nobody could renew: the lease is not held against the client.
    after = registry_file.restart(before, down_for=600)
    assert after.get_instance("ORDERS", orders.instance_id) is not None
    eureka_time.advance(91)  # but a whole lease without a heartbeat after the restart ends it

    assert after.get_application("ORDERS") is None
