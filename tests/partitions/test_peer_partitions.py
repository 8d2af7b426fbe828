"""Three replicating peers in their own network namespaces; one is cut off, writes go on on
both sides, the cut heals: every node agrees again within 5 s (reconciliation, ours)."""

from __future__ import annotations

import time

import pytest

from tests.partitions.netns import NamespacedServe, Network, network
from tests.partitions.workload import Ledger, Side, queue_lengths, register_all, until_agreed, view

#: Eureka's default queue capacity: the bound a queue must stay under.
QUEUE_CAPACITY = 10_000
CONVERGE_S = 5.0
TICK_S = 0.5


def start(net: Network) -> list[NamespacedServe]:
    hosts = [net.add_host(name) for name in ("a", "b", "c")]
    urls = [f"http://{host.address}:8761/eureka/" for host in hosts]
    nodes = []
    for host, own in zip(hosts, urls, strict=True):
        peers = ",".join(url for url in urls if url != own)
        nodes.append(net.serve(host, ["--store", "memory://", "--peer", peers]))
    for node in nodes:
        node.wait_ready()
    return nodes


@pytest.mark.slow
@pytest.mark.parametrize("cut_s", [20, 60], ids=["cut-20s", "cut-60s"])
def test_a_node_cut_off_agrees_with_its_peers_within_5_s_of_the_heal(cut_s: int) -> None:
    with network() as net:
        nodes = start(net)
        a, _, c = nodes
        urls = [node.base_url for node in nodes]
        before = [f"p{n}" for n in range(40)]
        register_all(a.base_url, before)
        ledger = Ledger(acked=set(before))
        agreed_at, _ = until_agreed(urls, ledger, 10)
        assert agreed_at is not None, "the three nodes never agreed before the cut"

        # Clients of half the instances stay with A, the others fail over to C.
        majority = Side(a.base_url, "a", ledger, live=before[:20])
        minority = Side(c.base_url, "c", ledger, live=before[20:])
        longest_queue = 0

        net.cut(c.host)
        cut_until = time.monotonic() + cut_s
        tick = 0
        while time.monotonic() < cut_until:
            for side in (majority, minority):
                side.register_new()
                side.heartbeat_some(5)
                if tick % 4 == 0:
                    side.cancel_oldest()
            if tick % 4 == 2:
                longest_queue = max([longest_queue, *(q for u in urls for q in queue_lengths(u))])
            tick += 1
            time.sleep(TICK_S)
        # Both sides really diverged: C lacks A's new instances and A still lists C's cancels.
        a_view, c_view = view(a.base_url), view(c.base_url)
        assert a_view is not None and c_view is not None
        assert not {i for i in majority.live if i.startswith("a")} <= c_view.ids
        assert ledger.cancelled & a_view.ids

        net.heal(c.host)
        took, views = until_agreed(urls, ledger, CONVERGE_S)
        missing = [sorted(ledger.must_hold() - v.ids) if v else None for v in views]
        extra = [sorted(v.ids - ledger.may_hold()) if v else None for v in views]
        assert took is not None, f"not agreed {CONVERGE_S} s after the heal: {missing=} {extra=}"
        agreed = views[0].ids if views[0] else frozenset()
        print(
            f"\ncut {cut_s} s: agreed {took:.2f} s after the heal; {len(agreed)} instances, "
            f"{len(ledger.cancelled)} cancelled, longest replication queue {longest_queue}"
        )

        # Nothing cancelled comes back later (a stale queued write or a lease running on).
        settle_until = time.monotonic() + 3
        while time.monotonic() < settle_until:
            for url in urls:
                held = view(url)
                assert held is not None and held.ids == agreed, url
            time.sleep(0.2)
        # One pending task per instance and action at most (the queue deduplicates), far
        # below the capacity: nothing queued was dropped for space.
        assert longest_queue <= min(3 * len(ledger.acked), QUEUE_CAPACITY)
        assert all(q == 0 for url in urls for q in queue_lengths(url))
