"""Start-up: copy the registry from the first peer that answers, before serving anything.

Each instance is registered as a replication (so nothing is sent back), then the registry is
opened for traffic with the copied count as its expected clients. With no peer answering,
the node starts on its own store and says so. Unlike Eureka, a node never then refuses reads
(Eureka answers 403 for up to five minutes after an empty copy): every peer forwards its
writes from now on, and heartbeats re-register whatever the node missed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from eureka_embed.client.errors import InvalidResponse
from eureka_embed.errors import EurekaError, TransportError
from eureka_embed.registry import Registry
from eureka_embed.replication.peer_client import describe_status
from eureka_embed.replication.peer_node import PeerNode

__all__ = ["CopyResult", "copy_registry_from_peers"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CopyResult:
    #: The peer copied from; None when none answered.
    source: str | None
    instances: int


def copy_registry_from_peers(registry: Registry, peers: Sequence[PeerNode]) -> CopyResult:
    """Copy from the first of ``peers`` that serves its registry; try each once, in order."""
    for peer in peers:
        try:
            answer = peer.client.get_applications()
        except InvalidResponse as exc:
            log.warning("start-up copy: unreadable registry from %s: %s", peer.url, exc.reason)
            continue
        except TransportError as exc:
            log.info("start-up copy: %s did not answer (%s)", peer.url, exc.reason)
            continue
        if answer.status != 200 or answer.entity is None:
            log.info("start-up copy: %s answered %s", peer.url, describe_status(answer.status))
            continue
        applications = answer.entity
        copied = 0
        for instance in applications.instances():
            try:
                registry.register(instance, replication=True)
                copied += 1
            except EurekaError as exc:
                log.warning(
                    "start-up copy: skipped %s/%s: %s", instance.app, instance.instance_id, exc
                )
        # What the store now holds is what will renew: the copy, plus any durable leases.
        registry.open_for_traffic(registry.store.count())
        log.info("start-up copy: %d instances from %s", copied, peer.url)
        return CopyResult(peer.url, copied)
    if peers:
        log.warning("start-up copy: no peer answered; starting with this node's own registry")
    return CopyResult(None, 0)
