"""Three ``eureka-embed serve --peer`` processes on loopback replicating to each other."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import pytest

from tests.server.support import (
    SERVERS,
    ServeProcess,
    get_json,
    live_instance,
    register,
    register_at_once,
    register_short_lease,
    request,
    serve_process,
    wait_for,
)

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
#: Short enough that an instance nobody renews is gone within a few seconds.
NODE_ARGS = ("--eviction-interval", "0.5", "--no-self-preservation")
RECEIVED = re.compile(r'^eureka_replication_received_items_total\{action="(\w+)"\} (\S+)$', re.M)


def free_ports(count: int) -> list[int]:
    """Ports free right now. Another process may take one before the node binds it; the
    cluster then retries with new ones."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def url_of(port: int) -> str:
    return f"http://127.0.0.1:{port}/eureka/"


class Cluster:
    """Three nodes, each given all three URLs as peers (each must skip itself)."""

    def __init__(self, stack: ExitStack, server: str = "waitress") -> None:
        self._stack = stack
        self._server = server
        self.ports: list[int] = []
        self.nodes: list[ServeProcess] = []

    @property
    def peer_arg(self) -> str:
        return ",".join(url_of(port) for port in self.ports)

    def start(self) -> Cluster:
        for _ in range(3):
            self.ports = free_ports(3)
            processes = [self.spawn(port) for port in self.ports]
            try:
                for process in processes:
                    process.wait_ready()
                for process in processes:
                    process.wait_copied()
            except AssertionError:  # most likely a port taken meanwhile: try new ones
                for process in processes:
                    process.terminate()
                continue
            for process in processes:
                self._stack.callback(process.terminate)
            self.nodes = processes
            return self
        raise AssertionError("could not start three nodes on free ports")

    def spawn(self, port: int) -> ServeProcess:
        return ServeProcess(
            ["--server", self._server, "--port", str(port), "--peer", self.peer_arg, *NODE_ARGS]
        )

    def restart(self, index: int) -> ServeProcess:
        process = self.spawn(self.ports[index])
        self._stack.callback(process.terminate)
        process.wait_ready()
        process.wait_copied()
        self.nodes[index] = process
        return process

    @property
    def urls(self) -> list[str]:
        return [node.base_url for node in self.nodes]


@pytest.fixture(scope="module", params=SERVERS)
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Three peers on each HTTP server (ids ``waitress``, ``uvicorn``)."""
    with ExitStack() as stack:
        yield Cluster(stack, request.param).start()


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster for a test that stops nodes."""
    with ExitStack() as stack:
        yield Cluster(stack).start()


def everywhere_within(
    urls: Sequence[str], probe: Callable[[str], bool], seconds: float, what: str
) -> None:
    started = time.monotonic()
    for url in urls:
        remaining = max(seconds - (time.monotonic() - started), 0.05)
        wait_for(lambda url=url: probe(url), timeout=remaining, what=f"{what} on {url}")  # type: ignore[misc]
    assert time.monotonic() - started <= seconds, what


def received(node: ServeProcess) -> dict[str, float]:
    """Replicated items this node received so far, by action."""
    metrics = request(node.base_url.replace("/eureka/", "/metrics")).body.decode()
    return {action: float(count) for action, count in RECEIVED.findall(metrics)}


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {action: after[action] - before.get(action, 0.0) for action in after if action}


def renewed_since(url: str, app: str, instance_id: str, since: int) -> bool:
    found = live_instance(url, app, instance_id)
    return found is not None and found["leaseInfo"]["lastRenewalTimestamp"] > since


def test_each_write_on_one_node_reaches_both_peers_within_a_second_exactly_once(
    cluster: Cluster,
) -> None:
    a, b, c = cluster.nodes
    before = [received(node) for node in cluster.nodes]

    assert register(a.base_url, "ORDERS", "o1") == 204
    everywhere_within(
        [b.base_url, c.base_url],
        lambda url: live_instance(url, "ORDERS", "o1") is not None,
        1.0,
        "registration",
    )
    registered = {
        url: live_instance(url, "ORDERS", "o1")["leaseInfo"]["lastRenewalTimestamp"]  # type: ignore[index]
        for url in (b.base_url, c.base_url)
    }

    assert request(f"{a.base_url}apps/ORDERS/o1", "PUT").status == 200
    everywhere_within(
        [b.base_url, c.base_url],
        lambda url: renewed_since(url, "ORDERS", "o1", registered[url]),
        1.0,
        "heartbeat",
    )

    assert request(f"{a.base_url}apps/ORDERS/o1/status?value=OUT_OF_SERVICE", "PUT").status == 200
    everywhere_within(
        [b.base_url, c.base_url],
        lambda url: (live_instance(url, "ORDERS", "o1") or {}).get("status") == "OUT_OF_SERVICE",
        1.0,
        "status change",
    )

    assert request(f"{a.base_url}apps/ORDERS/o1", "DELETE").status == 200
    everywhere_within(
        [b.base_url, c.base_url],
        lambda url: live_instance(url, "ORDERS", "o1") is None,
        1.0,
        "cancel",
    )

    # No loops: the peers got each write once, from A; nothing came back to A.
    once_each = {"Register": 1, "Heartbeat": 1, "StatusUpdate": 1, "Cancel": 1}
    got = [delta(before[n], received(node)) for n, node in enumerate(cluster.nodes)]
    assert all(count == 0 for count in got[0].values()), got[0]
    for peer in got[1:]:
        assert {action: count for action, count in peer.items() if count} == once_each


def test_conflicting_writes_on_two_nodes_converge_on_the_newest_dirty_timestamp(
    cluster: Cluster,
) -> None:
    a, b, _ = cluster.urls
    for round_ in range(3):
        instance_id = f"race{round_}"
        # The newer write goes to A in one round and to B in the others.
        newer, older = (a, b) if round_ % 2 else (b, a)
        statuses = register_at_once(
            [(older, instance_id, 1_000, 1111), (newer, instance_id, 2_000, 2222)]
        )
        assert statuses == [204, 204]

        def settled(url: str, instance_id: str = instance_id) -> bool:
            found = live_instance(url, "RACE", instance_id)
            return found is not None and (found["port"]["$"], found["lastDirtyTimestamp"]) == (
                2222,
                "2000",
            )

        everywhere_within(cluster.urls, settled, 5.0, f"{instance_id} settled")


def test_an_instance_heartbeating_to_one_node_only_stays_alive_on_all(cluster: Cluster) -> None:
    a, b, c = cluster.urls
    assert register_short_lease(a, "PINGED", "p1", seconds=2) == 204
    assert register_short_lease(a, "PINGED", "silent", seconds=2) == 204
    everywhere_within(
        cluster.urls, lambda url: live_instance(url, "PINGED", "silent") is not None, 1.0, "both"
    )
    stop = threading.Event()

    def heartbeats_to_b() -> None:
        while not stop.is_set():
            request(f"{b}apps/PINGED/p1", "PUT")
            stop.wait(0.5)  # the client's renewal interval

    beating = threading.Thread(target=heartbeats_to_b)
    beating.start()
    try:
        # The instance nobody renews expires everywhere: leases really are short...
        everywhere_within(
            cluster.urls,
            lambda url: live_instance(url, "PINGED", "silent") is None,
            8.0,
            "the silent instance evicted",
        )
        # ...while the one renewed on B alone is alive on A and C by B's replicated heartbeats.
        for url in (a, c, b):
            assert live_instance(url, "PINGED", "p1") is not None, url
    finally:
        stop.set()
        beating.join(5)


def registry_view(url: str) -> tuple[set[tuple[str, str, str, str, str]], str]:
    """The instances a node serves (what must agree across nodes) and its apps hashcode."""
    payload = get_json(f"{url}apps/")["applications"]
    instances = {
        (
            app["name"],
            instance["instanceId"],
            instance["status"],
            instance.get("overriddenStatus") or instance.get("overriddenstatus") or "",
            instance["lastDirtyTimestamp"],
        )
        for app in payload["application"]
        for instance in app["instance"]
    }
    return instances, payload["apps__hashcode"]


def test_a_stopped_peer_catches_up_when_it_returns(own_cluster: Cluster) -> None:
    a, b, c = own_cluster.urls
    assert register(a, "KEPT", "r1") == 204
    everywhere_within(
        own_cluster.urls, lambda url: live_instance(url, "KEPT", "r1") is not None, 1.0, "r1"
    )

    own_cluster.nodes[2].terminate()

    # The others keep serving and accepting writes meanwhile.
    assert register(a, "KEPT", "r2") == 204
    assert register(a, "KEPT", "r3") == 204
    assert register(b, "KEPT", "r4") == 204
    assert request(f"{b}apps/KEPT/r1", "DELETE").status == 200
    assert request(f"{a}apps/KEPT/r2/status?value=OUT_OF_SERVICE", "PUT").status == 200
    everywhere_within(
        [a, b],
        lambda url: (
            live_instance(url, "KEPT", "r4") is not None
            and live_instance(url, "KEPT", "r1") is None
        ),
        1.0,
        "writes between A and B",
    )

    def c_seen_down() -> dict[str, Any] | None:
        peers = get_json(f"{a}status")["status"]["peers"]
        (to_c,) = [peer for peer in peers if peer["url"] == c]
        return to_c if to_c.get("reachable") is False else None

    to_c = wait_for(c_seen_down, timeout=5, what="A reporting C unreachable")
    assert to_c["status"] == "DOWN"
    # What waits for C is what was written, not a pile of retries.
    assert to_c["queueLength"] <= 4
    assert len(get_json(f"{a}status")["status"]["peers"]) == 2  # itself never a peer

    returned = own_cluster.restart(2)
    # The start-up copy brought everything written while C was away.
    assert f"start-up copy: 3 instances from {a}" in returned.stderr.text()
    assert live_instance(c, "KEPT", "r4") is not None
    assert live_instance(c, "KEPT", "r1") is None
    # And replication to C resumes.
    assert register(a, "KEPT", "r5") == 204
    wait_for(lambda: live_instance(c, "KEPT", "r5"), timeout=10, what="r5 on the returned C")

    def all_equal() -> bool:
        views = [registry_view(url) for url in own_cluster.urls]
        return all(view == views[0] for view in views)

    wait_for(all_equal, timeout=10, what="the three registries to agree")
    instances, hashcode = registry_view(c)
    assert {i[1] for i in instances} == {"r2", "r3", "r4", "r5"}
    assert hashcode == "OUT_OF_SERVICE_1_UP_3_"


def test_a_node_whose_peers_are_all_down_starts_alone_and_serves() -> None:
    (dead,) = free_ports(1)
    with serve_process(["--peer", url_of(dead)]) as node:
        # The copy runs once the node listens (the ready line comes first): its end is logged
        # by the time /readyz says it is over.
        node.wait_copied()
        wait_for(
            lambda: (
                "no peer answered; starting with this node's own registry" in node.stderr.text()
            ),
            timeout=10,
            what="the log line of a copy no peer answered",
        )
        answer = request(f"{node.base_url}apps/", headers={"Accept": "application/json"})
        assert answer.status == 200  # never Eureka's 403 while "waiting for a sync"
