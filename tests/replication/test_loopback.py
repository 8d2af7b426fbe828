"""Replication over real HTTP between nodes served in this process."""

from __future__ import annotations

import json
import threading

from eureka_embed.replication import ReplicationSettings
from eureka_embed.server import EurekaServer
from tests.replication.in_process import Node, loopback_nodes
from tests.server.support import live_instance, register_body, request, wait_for

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
REPLICATION = {**JSON, "x-netflix-discovery-replication": "true"}


def register(node: Node, instance_id: str, *, ldt: int = 1_000, replication: bool = False) -> None:
    headers = REPLICATION if replication else JSON
    body = register_body("ORDERS", instance_id, ldt=ldt)
    assert request(f"{node.url}apps/ORDERS", "POST", body=body, headers=headers).status == 204


def heartbeat(node: Node, instance_id: str) -> int:
    return request(f"{node.url}apps/ORDERS/{instance_id}", "PUT").status


def ldt_on(node: Node, instance_id: str) -> int | None:
    found = live_instance(node.url, "ORDERS", instance_id)
    return int(found["lastDirtyTimestamp"]) if found else None


def test_a_peer_missing_an_instance_gets_its_register_after_a_heartbeat() -> None:
    with loopback_nodes(2) as (a, b):
        register(a, "o1", replication=True)  # as if a third node had sent it: not forwarded
        assert live_instance(b.url, "ORDERS", "o1") is None

        assert heartbeat(a, "o1") == 200

        wait_for(lambda: live_instance(b.url, "ORDERS", "o1"), timeout=5, what="o1 on b")


def test_a_node_adopts_the_newer_instance_a_peer_answers_its_heartbeat_with() -> None:
    with loopback_nodes(2) as (a, b):
        register(a, "o1", ldt=1_000)
        wait_for(lambda: ldt_on(b, "o1") == 1_000, timeout=5, what="o1 on b")
        register(b, "o1", ldt=2_000, replication=True)  # b alone learns of a newer copy

        assert heartbeat(a, "o1") == 200

        wait_for(lambda: ldt_on(a, "o1") == 2_000, timeout=5, what="newer o1 adopted on a")
        assert ldt_on(b, "o1") == 2_000


def test_a_stopped_peer_leaves_the_node_serving_with_a_bounded_queue() -> None:
    settings = ReplicationSettings(queue_capacity=5, max_retry_s=0.2)
    with loopback_nodes(2, settings) as (a, b):
        b.server.stop()

        for n in range(20):
            register(a, f"o{n}")

        def b_seen_down() -> dict[str, object] | None:
            (peer,) = a.peers_status()
            return peer if peer.get("reachable") is False else None

        peer = wait_for(b_seen_down, timeout=5, what="b reported unreachable")
        assert peer["status"] == "DOWN"
        assert peer["queueLength"] <= 5  # type: ignore[operator]
        assert peer["dropped"] >= 15  # type: ignore[operator]
        assert len(a.registry.get_applications().get("ORDERS") or ()) == 20


def test_status_and_metrics_show_each_peer() -> None:
    with loopback_nodes(2) as (a, b):
        register(a, "o1")
        wait_for(lambda: live_instance(b.url, "ORDERS", "o1"), timeout=5, what="o1 on b")

        status = request(f"{a.url}status", headers=JSON).json()["status"]
        metrics = request(a.server.root_url + "/metrics").body.decode()
        dashboard = request(a.server.root_url + "/dashboard/data").body.decode()
        b_metrics = request(b.server.root_url + "/metrics").body.decode()

    (peer,) = status["peers"]
    assert peer["url"] == b.url
    assert peer["status"] == "UP"
    assert peer["batchesSent"] >= 1
    assert f'eureka_peer_reachable{{peer="{b.url}"}} 1.0' in metrics
    assert f'eureka_peer_items_sent_total{{peer="{b.url}"}} 1.0' in metrics
    assert f'eureka_peer_queue_length{{peer="{b.url}"}} 0.0' in metrics
    assert b.url in dashboard
    assert 'eureka_replication_received_items_total{action="Register"} 1.0' in b_metrics
    assert json.dumps(peer)  # plain data, as the XML and JSON status writers need


def test_a_server_given_peers_copies_at_start_replicates_and_stops_its_senders() -> None:
    with EurekaServer() as b:
        assert (
            request(
                f"{b.base_url}apps/ORDERS",
                "POST",
                body=register_body("ORDERS", "early"),
                headers=JSON,
            ).status
            == 204
        )
        a = EurekaServer(peers=[f"{b.base_url},{b.base_url.rstrip('/')}"])
        try:
            a.start()
            # Copied once it listened; the peer named twice is one peer.
            assert a.wait_for_startup_copy(10)
            assert live_instance(a.base_url, "ORDERS", "early") is not None
            assert (
                request(
                    f"{a.base_url}apps/ORDERS",
                    "POST",
                    body=register_body("ORDERS", "late"),
                    headers=JSON,
                ).status
                == 204
            )
            wait_for(
                lambda: live_instance(b.base_url, "ORDERS", "late"), timeout=5, what="late on b"
            )
            (peer,) = request(f"{a.base_url}status", headers=JSON).json()["status"]["peers"]
            assert peer["url"] == b.base_url
        finally:
            a.stop()
        assert not [
            t for t in threading.enumerate() if t.name.startswith("eureka-embed-replication")
        ]
