"""Reconciliation: after a partition, nodes take what they missed and pass on their cancels."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from eureka_embed.client.endpoints import EurekaEndpoint
from eureka_embed.client.errors import ConnectError
from eureka_embed.client.transport import HttpRequest, HttpResponse, MockTransport
from eureka_embed.clock import ManualClock
from eureka_embed.events import RegistryEvent, WriteAction
from eureka_embed.model import InstanceInfo, InstanceStatus
from eureka_embed.registry import Registry
from eureka_embed.replication import CancelLog, PeerNode, ReplicationSettings
from eureka_embed.replication.reconcile import plan_reconciliation
from eureka_embed.replication.wire import ReplicationItem
from tests.replication.helpers import answer, instance
from tests.replication.in_process import Node, loopback_nodes
from tests.server.support import wait_for

ONE, TWO, THREE = instance(1), instance(2), instance(3)


def key(copy: InstanceInfo) -> tuple[str, str]:
    return copy.app, copy.instance_id


def cancel_log(clock: ManualClock | None = None, **limits: int) -> CancelLog:
    clock = clock if clock is not None else ManualClock(1_000_000)
    settings = {"retention_ms": 60_000, "capacity": 100, **limits}
    return CancelLog(clock, **settings)


def cancelled(copy: InstanceInfo) -> RegistryEvent:
    return RegistryEvent(WriteAction.CANCEL, copy.app, copy.instance_id, copy, replication=True)


# ---------------------------------------------------------------------- the plan


def test_an_instance_held_only_by_the_peer_is_taken() -> None:
    plan = plan_reconciliation({key(ONE): ONE}, [ONE, TWO], cancel_log(), {})

    assert plan.take == (TWO,)
    assert plan.cancel_there == ()


def test_an_instance_cancelled_here_is_cancelled_there_instead_of_taken() -> None:
    cancels = cancel_log()
    cancels.on_write(cancelled(TWO))

    plan = plan_reconciliation({}, [TWO], cancels, {})

    assert plan.take == ()
    assert plan.cancel_there == (key(TWO),)


def test_a_copy_changed_after_the_cancel_here_is_taken() -> None:
    cancels = cancel_log()
    cancels.on_write(cancelled(TWO))
    re_registered = TWO.evolve(last_dirty_timestamp=TWO.last_dirty_timestamp + 1)

    plan = plan_reconciliation({}, [re_registered], cancels, {})

    assert plan.take == (re_registered,)
    assert plan.cancel_there == ()


def test_an_instance_removed_here_lately_is_neither_taken_nor_cancelled_there() -> None:
    # An eviction here: the peer evicts on its own, and a live instance renews its way back.
    plan = plan_reconciliation({}, [TWO], cancel_log(), {key(TWO): TWO.last_dirty_timestamp})

    assert plan == plan_reconciliation({}, [], cancel_log(), {})


def test_the_newer_dirty_timestamp_wins_and_an_older_copy_is_left_to_the_peer() -> None:
    newer = ONE.evolve(last_dirty_timestamp=2_000)

    assert plan_reconciliation({key(ONE): ONE}, [newer], cancel_log(), {}).take == (newer,)
    assert plan_reconciliation({key(ONE): newer}, [ONE], cancel_log(), {}).take == ()


def test_on_equal_dirty_timestamps_a_differing_status_changed_later_wins() -> None:
    ours = ONE.evolve(last_updated_timestamp=5_000)
    out_later = ONE.evolve(status=InstanceStatus.OUT_OF_SERVICE, last_updated_timestamp=6_000)
    out_earlier = out_later.evolve(last_updated_timestamp=4_000)
    same_status_later = ONE.evolve(last_updated_timestamp=9_000)

    assert plan_reconciliation({key(ONE): ours}, [out_later], cancel_log(), {}).take == (out_later,)
    for copy in (out_earlier, same_status_later):
        assert plan_reconciliation({key(ONE): ours}, [copy], cancel_log(), {}).take == ()


# ---------------------------------------------------------------------- the cancel log


def test_a_registration_after_a_cancel_clears_it() -> None:
    cancels = cancel_log()
    cancels.on_write(cancelled(ONE))
    assert cancels.outranks(ONE)

    cancels.on_write(RegistryEvent(WriteAction.REGISTER, ONE.app, ONE.instance_id, ONE, False))

    assert not cancels.outranks(ONE)


def test_cancels_are_forgotten_past_their_retention_and_past_the_capacity() -> None:
    clock = ManualClock(1_000_000)
    cancels = cancel_log(clock, retention_ms=10_000, capacity=2)
    cancels.on_write(cancelled(ONE))
    clock.advance(seconds=5)
    cancels.on_write(cancelled(TWO))
    cancels.on_write(cancelled(THREE))  # past the capacity: ONE, the oldest, goes

    assert [cancels.outranks(c) for c in (ONE, TWO, THREE)] == [False, True, True]
    clock.advance(seconds=10.001)  # TWO and THREE are now older than 10 s
    assert not cancels.outranks(TWO) and len(cancels) == 0


def test_the_cancel_log_refuses_limits_it_cannot_keep() -> None:
    with pytest.raises(ValueError, match="retention_ms must be positive"):
        cancel_log(retention_ms=0)
    with pytest.raises(ValueError, match="capacity at least 1"):
        cancel_log(capacity=0)


# ---------------------------------------------------------------------- two live nodes


def peer_of(node: Node, other: Node) -> PeerNode:
    assert node.replicator is not None
    (peer,) = [p for p in node.replicator.peers if p.url == other.url]
    return peer


def registry_state(registry: Registry) -> dict[tuple[str, str], int]:
    return {key(i): i.last_dirty_timestamp for i in registry.get_applications().instances()}


def diverge(a: Node, b: Node) -> None:
    """What a partition leaves behind: writes each side took that never reached the other.

    Replicated writes are not forwarded, so writing them as replications keeps them local.
    """
    for n in range(1, 5):
        for node in (a, b):
            node.registry.register(instance(n), replication=True)
    a.registry.cancel("ORDERS", instance(1).instance_id, replication=True)
    a.registry.register(instance(10), replication=True)
    b.registry.cancel("ORDERS", instance(2).instance_id, replication=True)
    b.registry.register(instance(20), replication=True)
    b.registry.register(instance(21), replication=True)  # so that the hashcodes differ too
    b.registry.register(instance(3, ldt=2_000), replication=True)


EXPECTED = {key(instance(n)): 1_000 for n in (4, 10, 20, 21)} | {key(instance(3)): 2_000}


def wait_until_agreed(*nodes: Node) -> None:
    for node in nodes:
        wait_for(
            lambda node=node: registry_state(node.registry) == EXPECTED,  # type: ignore[misc]
            timeout=5,
            what=f"the agreed registry on {node.url}",
        )


def test_two_diverged_nodes_agree_after_each_reconciles_with_the_other() -> None:
    with loopback_nodes(2) as (a, b):
        diverge(a, b)
        assert a.replicator is not None and b.replicator is not None
        assert a.replicator.reconciler.differing_peers() == [peer_of(a, b)]

        a.replicator.reconciler.reconcile(peer_of(a, b))
        b.replicator.reconciler.reconcile(peer_of(b, a))

        # Each side took what it lacked; the cancels travel through the peers' queues.
        wait_until_agreed(a, b)
        assert a.registry.apps_hashcode() == b.registry.apps_hashcode()
        assert a.replicator.reconciler.differing_peers() == []
        assert (a.replicator.reconciler.cancels_sent, b.replicator.reconciler.cancels_sent) == (
            1,
            1,
        )


def test_a_reconciliation_asked_for_runs_on_the_reconciler_thread() -> None:
    with loopback_nodes(2) as (a, b):
        diverge(a, b)
        assert a.replicator is not None and b.replicator is not None

        a.replicator.reconciler.request(peer_of(a, b))
        b.replicator.reconciler.request(peer_of(b, a))

        wait_until_agreed(a, b)


def test_differing_hashcodes_start_a_reconciliation_every_interval() -> None:
    settings = ReplicationSettings(reconcile_interval_s=0.2)
    with loopback_nodes(2, settings) as (a, b):
        diverge(a, b)
        wait_until_agreed(a, b)


# ---------------------------------------------------------------------- the trigger


def test_a_peer_answering_again_after_failures_is_reported_back_once(registry: Registry) -> None:
    answers: list[HttpResponse | Exception] = [
        ConnectError("refused"),
        ConnectError("refused"),
        answer(200),
        answer(200),
    ]

    def handle(request: HttpRequest) -> HttpResponse:
        result = answers.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    back: list[PeerNode] = []
    node = PeerNode(
        EurekaEndpoint.parse("http://peer-b:8761/eureka/"),
        registry,
        transport_factory=lambda endpoint: MockTransport(handle),
        on_back=back.append,
    )
    send: Callable[[], float | None] = lambda: node.deliver(node.queue.take_ready(flush=True) or [])  # noqa: E731
    try:
        node.enqueue(ReplicationItem.register(ONE))
        assert send() is not None and send() is not None  # two failures: waits, no report
        assert back == []
        assert send() is None  # answered: back
        node.enqueue(ReplicationItem.register(TWO))
        assert send() is None  # still there: not reported again
        assert back == [node]
    finally:
        node.stop()
