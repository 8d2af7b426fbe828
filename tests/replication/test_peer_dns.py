"""Peers from DNS: names resolved again and again, peers added and removed without a restart.

The resolver is injected (a name to its addresses) and so is the refresher's wait, so nothing
here sleeps or asks a real DNS server.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pytest

from eureka_embed.client.errors import ConnectError
from eureka_embed.client.transport import HttpRequest, HttpResponse, MockTransport
from eureka_embed.errors import InvalidInput
from eureka_embed.events import WriteAction
from eureka_embed.registry import Registry
from eureka_embed.replication import NodeAddress, PeerReplicator
from eureka_embed.replication.peer_dns import DnsPeers, PeerDnsName
from tests.replication.helpers import instance

NAME = PeerDnsName.parse("eureka-headless:8761")
STATIC = "http://static-peer:8761/eureka/"


def url(address: str, port: int = 8761) -> str:
    return f"http://{address}:{port}/eureka/"


class Resolver:
    """What the test says each name resolves to now; an exception to raise instead."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str] | OSError] = {}

    def __call__(self, name: str) -> list[str]:
        answer = self.answers[name]
        if isinstance(answer, OSError):
            raise answer
        return answer


def _refuse(request: HttpRequest) -> HttpResponse:
    raise ConnectError("refused")


@pytest.fixture
def replicator(registry: Registry) -> Iterator[PeerReplicator]:
    # Never started: the queues are inspected instead of sent.
    own = NodeAddress("10.0.0.1", 8761)
    made = PeerReplicator(
        registry, [STATIC], own_address=own, transport_factory=lambda _: MockTransport(_refuse)
    )
    registry.add_listener(made.on_write)
    yield made
    made.stop()


def peer_urls(replicator: PeerReplicator) -> list[str]:
    return [peer.url for peer in replicator.peers]


def pending(replicator: PeerReplicator, peer_url: str) -> list[tuple[WriteAction, str]]:
    (peer,) = [p for p in replicator.peers if p.url == peer_url]
    tasks = peer.queue.take_ready(flush=True) or []
    return [(t.item.action, t.item.instance_id) for t in tasks]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eureka-headless:8761", "http://10.0.0.2:8761/eureka/"),
        ("http://eureka-headless:8761", "http://10.0.0.2:8761/eureka/"),
        ("https://eureka-headless:8443", "https://10.0.0.2:8443/eureka/"),
        ("https://eureka-headless:8443/eureka/v2", "https://10.0.0.2:8443/eureka/v2/"),
    ],
)
def test_each_address_becomes_a_service_url(text: str, expected: str) -> None:
    assert PeerDnsName.parse(text).endpoint("10.0.0.2").url == expected


def test_an_ipv6_address_is_bracketed() -> None:
    assert NAME.endpoint("fd00::2").url == "http://[fd00::2]:8761/eureka/"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("eureka-headless", "NAME:PORT"),
        ("eureka-headless:http", "NAME:PORT"),
        (":8761", "NAME:PORT"),
        ("ftp://eureka-headless:21", "https://NAME:PORT"),
        ("http://user@eureka-headless:8761", "credentials"),
    ],
)
def test_a_bad_name_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        PeerDnsName.parse(text)


def test_peers_follow_the_name_skipping_this_node_and_keeping_static_peers(
    replicator: PeerReplicator,
) -> None:
    resolver = Resolver()
    dns = DnsPeers(replicator, [NAME], resolver=resolver)
    resolver.answers["eureka-headless"] = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]

    dns.refresh()
    assert peer_urls(replicator) == [STATIC, url("10.0.0.2"), url("10.0.0.3")]

    resolver.answers["eureka-headless"] = ["10.0.0.1", "10.0.0.3", "10.0.0.4"]
    dns.refresh()
    assert peer_urls(replicator) == [STATIC, url("10.0.0.3"), url("10.0.0.4")]


def test_an_added_peer_gets_the_writes_made_after_it_appeared_and_nothing_else(
    replicator: PeerReplicator, registry: Registry
) -> None:
    resolver = Resolver()
    dns = DnsPeers(replicator, [NAME], resolver=resolver)
    resolver.answers["eureka-headless"] = ["10.0.0.2"]
    dns.refresh()
    before = instance(1)
    registry.register(before)

    resolver.answers["eureka-headless"] = ["10.0.0.2", "10.0.0.3"]
    dns.refresh()
    after = instance(2)
    registry.register(after)

    assert pending(replicator, url("10.0.0.3")) == [(WriteAction.REGISTER, after.instance_id)]
    assert pending(replicator, url("10.0.0.2")) == [
        (WriteAction.REGISTER, before.instance_id),
        (WriteAction.REGISTER, after.instance_id),
    ]


def test_a_removed_peer_is_stopped_and_its_queue_closed(replicator: PeerReplicator) -> None:
    resolver = Resolver()
    dns = DnsPeers(replicator, [NAME], resolver=resolver)
    resolver.answers["eureka-headless"] = ["10.0.0.2", "10.0.0.3"]
    dns.refresh()
    (gone,) = [p for p in replicator.peers if p.url == url("10.0.0.3")]

    resolver.answers["eureka-headless"] = ["10.0.0.2"]
    dns.refresh()

    assert url("10.0.0.3") not in peer_urls(replicator)
    assert gone.queue.closed
    assert url("10.0.0.3") not in [s["url"] for s in replicator.peers_status()]
    assert replicator.reconciler.peers == replicator.peers


@pytest.mark.parametrize("failure", [OSError("Name or service not known"), []])
def test_a_name_that_stops_resolving_keeps_its_peers(
    replicator: PeerReplicator, failure: OSError | list[str]
) -> None:
    resolver = Resolver()
    dns = DnsPeers(replicator, [NAME], resolver=resolver)
    resolver.answers["eureka-headless"] = ["10.0.0.2"]
    dns.refresh()

    resolver.answers["eureka-headless"] = failure
    dns.refresh()

    assert peer_urls(replicator) == [STATIC, url("10.0.0.2")]


def test_a_dns_peer_that_is_also_static_stays_when_dns_drops_it(
    registry: Registry,
) -> None:
    made = PeerReplicator(
        registry, [url("10.0.0.2")], transport_factory=lambda _: MockTransport(_refuse)
    )
    resolver = Resolver()
    dns = DnsPeers(made, [NAME], resolver=resolver)
    resolver.answers["eureka-headless"] = ["10.0.0.2", "10.0.0.3"]
    dns.refresh()
    resolver.answers["eureka-headless"] = ["10.0.0.3"]
    dns.refresh()

    assert peer_urls(made) == [url("10.0.0.2"), url("10.0.0.3")]
    made.stop()


class ManualWait:
    """The refresher's wait, returned by the test one round at a time."""

    def __init__(self) -> None:
        self.asked: queue.Queue[float] = queue.Queue()
        self._go: queue.Queue[bool] = queue.Queue()

    def __call__(self, seconds: float) -> bool:
        self.asked.put(seconds)
        return self._go.get(timeout=10)

    def tick(self) -> None:
        self._go.put(False)

    def stop(self) -> None:
        self._go.put(True)


def test_the_refresher_resolves_at_start_then_every_interval(registry: Registry) -> None:
    reached = threading.Event()
    sent: list[str] = []

    def record(request: HttpRequest) -> HttpResponse:
        sent.append(request.url)
        if request.url.startswith(url("10.0.0.3")) and request.body:
            reached.set()
        raise ConnectError("refused")

    made = PeerReplicator(registry, [], transport_factory=lambda _: MockTransport(record))
    resolver = Resolver()
    resolver.answers["eureka-headless"] = ["10.0.0.2"]
    wait = ManualWait()
    dns = DnsPeers(made, [NAME], resolver=resolver, interval_s=12.5, wait=wait)
    made.start()
    try:
        dns.start()
        assert peer_urls(made) == [url("10.0.0.2")]  # resolved before start returned
        assert wait.asked.get(timeout=10) == 12.5

        resolver.answers["eureka-headless"] = ["10.0.0.3"]
        wait.tick()
        assert dns.wait_for_round(2, timeout_s=10)
        assert peer_urls(made) == [url("10.0.0.3")]
        assert wait.asked.get(timeout=10) == 12.5  # and it waits for the next round

        # The new peer's sender runs: a write made now is sent to it.
        registry.register(instance(1))
        assert reached.wait(10), sent
    finally:
        wait.stop()
        dns.stop()
        made.stop()
    assert not any(u.startswith(url("10.0.0.2")) and "peerreplication" in u for u in sent), sent


def test_a_node_on_every_interface_knows_the_addresses_of_its_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a pod, the headless Service lists the pod's IP, which its host name resolves to."""
    import socket

    def pod_ip(name: str, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.244.1.7", 0))]

    monkeypatch.setattr(socket, "gethostname", lambda: "eureka-0")
    monkeypatch.setattr(socket, "getaddrinfo", pod_ip)
    own = NodeAddress.of("0.0.0.0", 8761)

    assert own.is_self("http://10.244.1.7:8761/eureka/")
    assert not own.is_self("http://10.244.1.8:8761/eureka/")
