"""Replicating nodes served in this process on loopback: registry, replicator, waitress."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from eureka_embed.config import RegistryConfig
from eureka_embed.registry import Registry
from eureka_embed.replication import PeerReplicator, ReplicationSettings
from eureka_embed.server import EurekaServer
from eureka_embed.wsgi import create_app


class Node:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        # The status callback is bound late: the peers' URLs are known once all listen.
        self.server = EurekaServer(
            registry, app=create_app(registry, peers_status=self.peers_status)
        )
        self.replicator: PeerReplicator | None = None

    @property
    def url(self) -> str:
        return self.server.base_url

    def peers_status(self) -> Sequence[dict[str, Any]]:
        return self.replicator.peers_status() if self.replicator is not None else []


@contextmanager
def loopback_nodes(count: int, settings: ReplicationSettings | None = None) -> Iterator[list[Node]]:
    """``count`` nodes, each replicating to all the others; all stopped on exit."""
    with ExitStack() as stack:
        nodes: list[Node] = []
        for _ in range(count):
            registry = Registry(config=RegistryConfig(self_preservation=False))
            stack.callback(registry.close)
            node = Node(registry)
            node.server.listen()
            stack.callback(node.server.stop)
            nodes.append(node)
        for node in nodes:
            others = [other.url for other in nodes if other is not node]
            node.replicator = PeerReplicator(node.registry, others, settings=settings)
            stack.callback(node.replicator.stop)
        for node in nodes:
            assert node.replicator is not None
            node.replicator.start()
            node.server.start()
        yield nodes
