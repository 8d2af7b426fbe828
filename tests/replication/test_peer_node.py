"""One peer's sender against a mock transport: retries, drops, and per-item outcomes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.errors import ConnectError, InvalidResponse, ReadTimeout
from eureka_embed.client.transport import HttpRequest, HttpResponse, MockTransport
from eureka_embed.events import WriteAction
from eureka_embed.model import InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.replication.peer_node import PeerNode
from eureka_embed.replication.settings import ReplicationSettings
from eureka_embed.replication.wire import ItemResult, ReplicationItem
from tests.replication.helpers import actions, answer, batch_json, instance

PEER = "http://peer-b:8761/eureka/"
ONE = instance(1, ldt=1_000)
ID = ONE.instance_id


def heartbeat(ldt: int = 1_000, instance_id: str = ID) -> ReplicationItem:
    return ReplicationItem(WriteAction.HEARTBEAT, "ORDERS", instance_id, ldt, InstanceStatus.UP)


class Peer:
    """A scripted peer: each send pops the next answer (or error); the last one repeats."""

    def __init__(self, *answers: HttpResponse | Exception) -> None:
        self.answers = list(answers)
        self.transport = MockTransport(self._handle)

    def _handle(self, request: HttpRequest) -> HttpResponse:
        result = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(result, Exception):
            raise result
        return result

    @property
    def bodies(self) -> list[bytes | None]:
        return [r.body for r in self.transport.requests]


@pytest.fixture
def make_node(registry: Registry) -> Iterator[Callable[..., PeerNode]]:
    made: list[PeerNode] = []

    def make(peer: Peer, url: str = PEER, **settings: float) -> PeerNode:
        node = PeerNode(
            EurekaEndpoint.parse(url),
            registry,
            settings=ReplicationSettings(**settings),  # type: ignore[arg-type]
            transport_factory=lambda endpoint: peer.transport,
        )
        made.append(node)
        return node

    yield make
    for node in made:
        node.stop()


def send_pending(node: PeerNode) -> float | None:
    tasks = node.queue.take_ready(flush=True)
    assert tasks is not None, "nothing pending"
    return node.deliver(tasks)


def test_a_batch_is_posted_as_json_marked_as_replication(
    make_node: Callable[..., PeerNode],
) -> None:
    peer = Peer(answer(200, 200))
    node = make_node(peer, "http://user:secret@peer-b:8761/eureka/")
    node.enqueue(ReplicationItem.register(ONE))
    node.enqueue(heartbeat())

    assert send_pending(node) is None

    (request,) = peer.transport.requests
    assert (request.method, request.url) == ("POST", PEER + "peerreplication/batch/")
    assert request.header("x-netflix-discovery-replication") == "true"
    assert request.header("content-type") == "application/json"
    assert request.header("authorization") == "Basic dXNlcjpzZWNyZXQ="
    assert actions(request.body) == [("Register", ID), ("Heartbeat", ID)]
    status = node.status()
    assert (status.batches_sent, status.items_sent, status.queue_length) == (1, 2, 0)
    assert status.reachable is True and status.last_success_ms is not None


@pytest.mark.parametrize(
    ("failure", "first_wait"),
    [
        (HttpResponse(503), 1.0),
        (ReadTimeout("no answer within the read time-out"), 1.0),
        (ConnectError("cannot connect (refused)"), 0.1),
    ],
)
def test_busy_or_unreachable_peers_get_the_batch_again_after_a_growing_wait(
    make_node: Callable[..., PeerNode], failure: HttpResponse | Exception, first_wait: float
) -> None:
    peer = Peer(failure, failure, failure, answer(200))
    node = make_node(peer, max_retry_s=3.0)
    node.enqueue(heartbeat())

    waits = [send_pending(node), send_pending(node), send_pending(node)]
    assert waits == [first_wait, first_wait * 2, min(first_wait * 4, 3.0)]
    assert len(node.queue) == 1  # still pending, never dropped
    assert send_pending(node) is None

    assert len(peer.transport.requests) == 4
    assert peer.bodies[0] == peer.bodies[3]
    status = node.status()
    assert (status.retries, status.failed, status.dropped, status.items_sent) == (3, 0, 0, 1)


def test_the_wait_is_bounded(make_node: Callable[..., PeerNode]) -> None:
    node = make_node(Peer(ConnectError("refused")), max_retry_s=0.5)
    node.enqueue(heartbeat())

    waits = [send_pending(node) for _ in range(8)]

    assert max(w or 0 for w in waits) == 0.5


def test_a_retried_task_yields_to_a_newer_one_queued_meanwhile(
    make_node: Callable[..., PeerNode],
) -> None:
    peer = Peer(HttpResponse(503), answer(200))
    node = make_node(peer)
    node.enqueue(heartbeat(ldt=1))
    tasks = node.queue.take_ready(flush=True)
    assert tasks is not None
    node.enqueue(heartbeat(ldt=2))

    node.deliver(tasks)
    send_pending(node)

    assert [i["lastDirtyTimestamp"] for i in batch_json(peer.bodies[1])] == [2]


def test_unreachable_peers_are_reported_down_and_recover(
    make_node: Callable[..., PeerNode],
) -> None:
    peer = Peer(ConnectError("refused"), answer(200))
    node = make_node(peer)
    node.enqueue(heartbeat())

    send_pending(node)
    down = node.status().to_dict()
    send_pending(node)
    up = node.status().to_dict()

    assert (down["status"], down["reachable"], down["lastError"]) == ("DOWN", False, "refused")
    assert (up["status"], up["reachable"]) == ("UP", True)


@pytest.mark.parametrize(
    "failure",
    [
        HttpResponse(500),
        HttpResponse(400),
        InvalidResponse("bad gzip"),
        HttpResponse(200, {"content-type": "text/html"}, b"<html>proxy says hello</html>"),
    ],
    ids=["500", "400", "undecodable", "2xx-not-a-result-list"],
)
def test_permanent_errors_drop_the_batch_and_count_it(
    make_node: Callable[..., PeerNode], failure: HttpResponse | Exception
) -> None:
    node = make_node(Peer(failure))
    node.enqueue(heartbeat())
    node.enqueue(heartbeat(instance_id="other"))

    assert send_pending(node) is None

    status = node.status()
    assert (status.failed, status.queue_length, status.batches_sent) == (2, 0, 0)
    assert status.last_error is not None


def test_a_heartbeat_the_peer_does_not_know_is_followed_by_the_full_register(
    make_node: Callable[..., PeerNode], registry: Registry
) -> None:
    registry.register(ONE)
    peer = Peer(answer(404), answer(200))
    node = make_node(peer)
    node.enqueue(heartbeat())

    send_pending(node)
    send_pending(node)

    (register,) = batch_json(peer.bodies[1])
    assert register["action"] == "Register"
    assert register["instanceInfo"]["instanceId"] == ID
    assert node.status().failed == 0


def test_no_register_follows_for_an_instance_gone_here_too(
    make_node: Callable[..., PeerNode], registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    registry.register(ONE)
    registry.cancel("ORDERS", ID)  # gone here while its heartbeat waited to be sent
    peer = Peer(answer(404), answer(200))
    node = make_node(peer)
    node.enqueue(heartbeat())

    with caplog.at_level(logging.WARNING, logger="eureka_embed.replication"):
        assert send_pending(node) is None

    # Nothing is queued to repair the peer: what it lacks is gone here too, and it is no
    # refusal either, so nothing counts as failed or is logged as one.
    assert node.queue.take_ready(flush=True) is None
    assert len(peer.transport.requests) == 1
    status = node.status()
    assert (status.failed, status.retries, status.dropped, status.queue_length) == (0, 0, 0, 0)
    assert (status.batches_sent, status.items_sent) == (1, 1)
    assert caplog.records == []
    assert registry.get_instance("ORDERS", ID) is None


def test_a_conflict_adopts_the_peers_newer_instance_without_sending_it_back(
    make_node: Callable[..., PeerNode], registry: Registry
) -> None:
    registry.register(ONE)
    replications: list[bool] = []
    registry.add_listener(lambda event: replications.append(event.replication))
    theirs = instance(1, ldt=2_000).evolve(metadata={"from": "peer"})
    node = make_node(Peer(answer(ItemResult(409, theirs))))
    node.enqueue(heartbeat(ldt=1_000))

    send_pending(node)

    stored = registry.get_instance("ORDERS", ID)
    assert stored is not None
    assert (stored.last_dirty_timestamp, stored.metadata) == (2_000, {"from": "peer"})
    assert replications == [True]


def test_a_conflict_with_an_older_instance_changes_nothing(
    make_node: Callable[..., PeerNode], registry: Registry
) -> None:
    registry.register(instance(1, ldt=3_000))
    node = make_node(Peer(answer(ItemResult(409, instance(1, ldt=2_000)))))
    node.enqueue(heartbeat(ldt=3_000))

    send_pending(node)

    stored = registry.get_instance("ORDERS", ID)
    assert stored is not None and stored.last_dirty_timestamp == 3_000


def test_items_answered_503_are_sent_again_and_the_rest_settle(
    make_node: Callable[..., PeerNode],
) -> None:
    peer = Peer(answer(200, 503, 400), answer(200))
    node = make_node(peer)
    for name in ("a", "b", "c"):
        node.enqueue(heartbeat(instance_id=name))

    assert send_pending(node) == 1.0
    send_pending(node)

    assert [i["id"] for i in batch_json(peer.bodies[1])] == ["b"]
    assert node.status().failed == 1  # "c", refused for good


def test_a_cancel_of_an_instance_the_peer_lacks_is_no_failure(
    make_node: Callable[..., PeerNode],
) -> None:
    node = make_node(Peer(answer(404)))
    node.enqueue(ReplicationItem(WriteAction.CANCEL, "ORDERS", ID))

    send_pending(node)

    assert node.status().failed == 0


def test_an_answer_of_the_wrong_length_is_not_read(make_node: Callable[..., PeerNode]) -> None:
    node = make_node(Peer(answer(404)))
    node.enqueue(heartbeat(instance_id="a"))
    node.enqueue(heartbeat(instance_id="b"))

    assert send_pending(node) is None
    assert (node.status().failed, node.status().items_sent) == (0, 2)


def test_the_sender_thread_retries_until_the_peer_takes_the_batch(
    make_node: Callable[..., PeerNode],
) -> None:
    delivered = threading.Event()
    outcomes: list[HttpResponse | Exception] = [ConnectError("refused"), HttpResponse(503)]

    def handle(request: HttpRequest) -> HttpResponse:
        if outcomes:
            result = outcomes.pop(0)
            if isinstance(result, Exception):
                raise result
            return result
        delivered.set()
        return answer(200)

    peer = Peer(answer(200))
    peer.transport.handler = handle
    node = make_node(peer, busy_retry_s=0.01, network_retry_s=0.01, max_batch_delay_s=0.0)
    node.start()
    node.enqueue(heartbeat())

    assert delivered.wait(5.0)
    node.stop()
    assert node.status().retries == 2


def test_stop_flushes_what_is_pending_to_a_reachable_peer(
    make_node: Callable[..., PeerNode],
) -> None:
    peer = Peer(answer(200))
    node = make_node(peer, max_batch_delay_s=60.0)
    node.start()
    node.enqueue(heartbeat())

    node.stop()

    assert actions(peer.bodies[-1]) == [("Heartbeat", ID)]


def test_an_idle_peer_is_probed_with_an_empty_batch(make_node: Callable[..., PeerNode]) -> None:
    probed = threading.Event()
    peer = Peer(answer())
    node = make_node(peer, probe_interval_s=0.01)

    def handle(request: HttpRequest) -> HttpResponse:
        probed.set()
        return answer()

    peer.transport.handler = handle
    node.start()

    assert probed.wait(5.0)
    node.stop()
    assert batch_json(peer.bodies[0]) == []
    assert node.status().reachable is True
    assert node.status().batches_sent == 0


def test_stop_closes_the_transport_the_node_was_given(
    make_node: Callable[..., PeerNode],
) -> None:
    peer = Peer(answer())
    node = make_node(peer)

    node.stop()

    assert peer.transport.closed
