"""PeerReplicator: which writes go to which peers, who is a peer, and the start-up copy."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest

from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.errors import ConnectError
from eureka_embed.client.transport import HttpRequest, HttpResponse, MockTransport
from eureka_embed.codec import WireFormat, encode_applications
from eureka_embed.errors import InvalidInput
from eureka_embed.events import WriteAction
from eureka_embed.model import Applications, InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.replication import NodeAddress, PeerReplicator, parse_peer_urls
from tests.replication.helpers import instance

B = "http://node-b:8761/eureka/"
C = "http://node-c:8761/eureka/"
ONE = instance(1)
ID = ONE.instance_id


@pytest.fixture
def replicator(registry: Registry) -> Iterator[PeerReplicator]:
    # Never started: the queues are inspected instead of sent.
    made = PeerReplicator(registry, [B, C], transport_factory=lambda _: MockTransport(_refuse))
    registry.add_listener(made.on_write)
    yield made
    made.stop()


def _refuse(request: HttpRequest) -> HttpResponse:
    raise ConnectError("refused")


def pending(replicator: PeerReplicator, peer: int = 0) -> list[tuple[WriteAction, str]]:
    tasks = replicator.peers[peer].queue.take_ready(flush=True) or []
    return [(t.item.action, t.item.instance_id) for t in tasks]


def test_every_client_write_goes_to_every_peer(
    replicator: PeerReplicator, registry: Registry
) -> None:
    registry.register(ONE)
    registry.renew("ORDERS", ID)
    registry.update_status("ORDERS", ID, InstanceStatus.OUT_OF_SERVICE)
    registry.delete_status_override("ORDERS", ID, InstanceStatus.UP)
    registry.cancel("ORDERS", ID)

    expected = [
        (WriteAction.REGISTER, ID),
        (WriteAction.HEARTBEAT, ID),
        (WriteAction.STATUS_UPDATE, ID),
        (WriteAction.DELETE_STATUS_OVERRIDE, ID),
        (WriteAction.CANCEL, ID),
    ]
    assert pending(replicator, 0) == expected
    assert pending(replicator, 1) == expected


def test_a_metadata_update_is_replicated_as_a_register_with_the_merged_metadata(
    replicator: PeerReplicator, registry: Registry
) -> None:
    registry.register(ONE)
    registry.update_metadata("ORDERS", ID, {"zone": "b"})

    (task,) = replicator.peers[0].queue.take_ready(flush=True) or []
    assert task.item.action is WriteAction.REGISTER
    assert task.item.instance is not None and task.item.instance.metadata == {"zone": "b"}


def test_writes_a_peer_sent_are_applied_but_never_forwarded(
    replicator: PeerReplicator, registry: Registry
) -> None:
    registry.register(ONE, replication=True)
    registry.renew("ORDERS", ID, replication=True)
    registry.update_status("ORDERS", ID, InstanceStatus.DOWN, replication=True)
    registry.cancel("ORDERS", ID, replication=True)

    assert pending(replicator, 0) == []
    assert pending(replicator, 1) == []


def test_peers_come_comma_separated_or_repeated_each_once() -> None:
    endpoints = parse_peer_urls([f"{B}, {C}", "http://node-c:8761/eureka", " ", B])

    assert [e.url for e in endpoints] == [B, C]


def test_a_bad_peer_url_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidInput, match="needs http"):
        parse_peer_urls(["node-b:8761"])


@pytest.mark.parametrize(
    ("own", "url", "is_self"),
    [
        (("127.0.0.1", 8761), "http://127.0.0.1:8761/eureka/", True),
        (("127.0.0.1", 8761), "http://localhost:8761/eureka/v2/", True),
        (("localhost", 8761), "http://127.0.0.1:8761/eureka/", True),
        (("127.0.0.1", 8761), "http://this-box:8761/eureka/", True),
        (("0.0.0.0", 8761), "http://localhost:8761/eureka/", True),
        (("10.1.2.3", 8761), "http://10.1.2.3:8761/eureka/", True),
        (("eureka-a", 80), "http://EUREKA-A/eureka/", True),
        (("127.0.0.1", 8761), "http://127.0.0.1:8762/eureka/", False),
        (("127.0.0.1", 8761), "http://node-b:8761/eureka/", False),
        (("10.1.2.3", 8761), "http://localhost:8761/eureka/", False),
    ],
)
def test_a_node_recognises_itself_by_host_and_port(
    own: tuple[str, int], url: str, is_self: bool
) -> None:
    address = NodeAddress(own[0], own[1], frozenset({"this-box"}))

    assert address.is_self(url) is is_self


def test_a_node_never_replicates_to_itself(registry: Registry) -> None:
    own = NodeAddress.of("127.0.0.1", 8761)

    replicator = PeerReplicator(registry, ["http://localhost:8761/eureka/," + B], own_address=own)

    assert [peer.url for peer in replicator.peers] == [B]
    replicator.stop()


def test_peers_status_reports_each_peer(replicator: PeerReplicator, registry: Registry) -> None:
    registry.register(ONE)

    statuses = replicator.peers_status()

    assert [s["url"] for s in statuses] == [B, C]
    assert statuses[0] == {
        "url": B,
        "status": "UNKNOWN",
        "queueLength": 1,
        "dropped": 0,
        "failed": 0,
        "batchesSent": 0,
        "itemsSent": 0,
        "retries": 0,
    }


# ---------------------------------------------------------------------- start-up copy


def serving(registry_payload: bytes, seen: list[str]) -> MockTransport:
    def handle(request: HttpRequest) -> HttpResponse:
        seen.append(f"{request.method} {request.url} {request.header('accept')}")
        return HttpResponse(200, {"content-type": "application/json"}, registry_payload)

    return MockTransport(handle)


def test_start_up_copies_from_the_first_peer_that_answers(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    theirs = Applications.of(
        [instance(1), instance(2, status=InstanceStatus.DOWN), instance(3, app="PAYMENTS")]
    )
    seen: list[str] = []
    transports = {
        B: MockTransport(_refuse),
        C: serving(encode_applications(theirs, WireFormat.JSON), seen),
    }
    replicator = PeerReplicator(
        registry, [B, C], transport_factory=lambda endpoint: transports[endpoint.url]
    )
    forwarded: list[bool] = []
    registry.add_listener(lambda event: forwarded.append(event.replication))

    with caplog.at_level(logging.INFO, logger="eureka_embed.replication"):
        result = replicator.copy_registry()

    assert (result.source, result.instances) == (C, 3)
    assert seen == [f"GET {C}apps/ application/json"]
    assert registry.get_instance("PAYMENTS", instance(3, app="PAYMENTS").instance_id) is not None
    down = registry.get_instance("ORDERS", instance(2).instance_id)
    assert down is not None and down.status is InstanceStatus.DOWN
    assert forwarded == [True, True, True]  # copied as replications: nothing is sent back
    assert registry.expected_clients == 3
    assert f"3 instances from {C}" in caplog.text
    replicator.stop()
    assert all(t.closed for t in transports.values()), "what the factory made is closed"


def test_with_no_peer_answering_the_node_starts_on_its_own(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    def unavailable(request: HttpRequest) -> HttpResponse:
        return HttpResponse(503, {}, b"")

    factories = {B: MockTransport(_refuse), C: MockTransport(unavailable)}
    replicator = PeerReplicator(registry, [B, C], transport_factory=lambda e: factories[e.url])

    with caplog.at_level(logging.INFO, logger="eureka_embed.replication"):
        result = replicator.copy_registry()

    assert (result.source, result.instances) == (None, 0)
    assert "no peer answered; starting with this node's own registry" in caplog.text
    replicator.stop()


def test_an_unreadable_registry_is_skipped_for_the_next_peer(registry: Registry) -> None:
    theirs = orjson.dumps({"applications": {"application": [{"name": "A", "instance": [1]}]}})
    good = encode_applications(Applications.of([instance(1)]), WireFormat.JSON)
    factories = {B: serving(theirs, []), C: serving(good, [])}
    replicator = PeerReplicator(registry, [B, C], transport_factory=lambda e: factories[e.url])

    assert replicator.copy_registry().source == C
    replicator.stop()


def test_credentials_in_a_peer_url_are_sent_as_basic_auth(registry: Registry) -> None:
    seen: list[str | None] = []

    def handle(request: HttpRequest) -> HttpResponse:
        seen.append(request.header("authorization"))
        return HttpResponse(200, {}, b'{"applications": {"application": []}}')

    replicator = PeerReplicator(
        registry,
        [EurekaEndpoint.parse("http://u:p@node-b:8761/eureka/")],
        transport_factory=lambda _: MockTransport(handle),
    )

    replicator.copy_registry()

    assert seen == ["Basic dTpw"]
    assert replicator.peers[0].url == B
    replicator.stop()
