"""An ASG state set on one node reaches its peer as Eureka's replication client sends it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eureka_embed.asg_status import AsgStatus
from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.urllib3_transport import urllib3_transports
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.replication.peer_client import PeerEurekaHttpClient
from eureka_embed.server import EurekaServer
from tests.registry.helpers import instance
from tests.server.support import request, wait_for


@pytest.fixture
def pair() -> Iterator[tuple[EurekaServer, EurekaServer]]:
    b = EurekaServer(Registry(), maintenance=False).start()
    a = EurekaServer(Registry(), maintenance=False, peers=[b.base_url]).start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_a_disabled_asg_on_one_node_takes_the_instances_out_of_service_on_its_peer(
    pair: tuple[EurekaServer, EurekaServer],
) -> None:
    a, b = pair
    b.registry.register(instance(1, asg_name="orders-v1"), replication=True)

    answer = request(a.base_url + "asg/orders-v1/status?value=DISABLED", "PUT")

    assert answer.status == 200
    wait_for(
        lambda: b.registry.asg_statuses.get("orders-v1") is AsgStatus.DISABLED,
        what="the peer to hear of the ASG",
    )
    on_b = b.registry.get_instance("ORDERS", "host1:orders:8080")
    assert on_b is not None and on_b.status is InstanceStatus.OUT_OF_SERVICE


def test_the_peer_client_marks_it_a_replication_so_it_goes_no_further(
    pair: tuple[EurekaServer, EurekaServer],
) -> None:
    a, b = pair
    endpoint = EurekaEndpoint.parse(a.base_url)
    client = PeerEurekaHttpClient(endpoint, urllib3_transports()(endpoint))
    try:
        assert client.asg_status_update("orders-v2", AsgStatus.DISABLED).status == 200
    finally:
        client.shutdown()
    assert a.registry.asg_statuses.get("orders-v2") is AsgStatus.DISABLED
    # A replicated state is not forwarded: a has b as a peer, and b never hears of it.
    request(a.base_url + "asg/marker/status?value=ENABLED", "PUT")
    wait_for(lambda: b.registry.asg_statuses.get("marker") is not None, what="the marker")
    assert b.registry.asg_statuses.get("orders-v2") is None
