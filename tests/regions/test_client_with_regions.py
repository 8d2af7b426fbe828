"""A DiscoveryClient with ``fetch_regions`` against a node that follows a region: its full and
delta fetches ask ``?regions=``, and its merged copy agrees with the server's hashcode (no full
fetch after the first), so a remote change arrives by delta."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eureka_embed.client import DiscoveryClient, DiscoveryConfig
from eureka_embed.client.scheduling import ManualScheduler
from eureka_embed.clock import ManualClock
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from tests.client.support import instance
from tests.regions.support import REGION, RegionRig, region_rig
from tests.server.support import register, wait_for


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def rig(clock: ManualClock) -> RegionRig:
    made = region_rig(clock)
    made.remote.register(instance(1, "BILLING"))
    return made


@pytest.fixture
def node(rig: RegionRig, clock: ManualClock) -> Iterator[EurekaServer]:
    """A node that starts following the rig's region as it serves, and stops at the end."""
    server = EurekaServer(
        Registry(clock=clock), maintenance=False, remote_regions=rig.regions(), shutdown_timeout=5
    )
    with server:
        wait_for(lambda: rig.follower.status().ok, what="the first fetch of the region")
        register(server.base_url, "ORDERS", "host1:orders:8080")
        yield server


def client_of(
    node: EurekaServer, clock: ManualClock, regions: tuple[str, ...]
) -> tuple[DiscoveryClient, ManualScheduler]:
    scheduler = ManualScheduler(clock)
    config = DiscoveryConfig(
        "orders",
        service_urls=node.base_url,
        host_name="host1",
        ip_addr="10.0.0.1",
        fetch_regions=regions,
    )
    return DiscoveryClient(config, scheduler=scheduler, clock=clock), scheduler


def test_the_client_sees_the_region_and_follows_it_by_deltas(
    node: EurekaServer, rig: RegionRig, clock: ManualClock
) -> None:
    client, scheduler = client_of(node, clock, (REGION,))
    with client:
        assert [i.instance_id for i in client.get_instances("BILLING")] == ["host1:billing:8080"]
        assert [i.instance_id for i in client.get_instances("ORDERS")] == ["host1:orders:8080"]

        rig.remote.register(instance(2, "BILLING"))
        rig.advance(30)  # the node's copy of the region
        scheduler.advance(30)  # the client's refresh

        assert len(client.get_instances("BILLING")) == 2
        stats = client.stats()
        # By delta, and the merge agreed with the hashcode over both regions' instances.
        assert (stats.full_fetches, stats.reconcile_mismatches) == (1, 0)
        assert stats.delta_fetches >= 1


def test_without_fetch_regions_the_client_sees_the_local_registry(
    node: EurekaServer, clock: ManualClock
) -> None:
    client, _ = client_of(node, clock, ())
    with client:
        assert client.get_instances("BILLING") == ()
        assert len(client.get_instances("ORDERS")) == 1
