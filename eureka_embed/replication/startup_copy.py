"""Start-up: copy the registry from the first peer that answers.

The standalone servers listen first and copy from a thread: meanwhile ``/readyz`` answers 503
and full and delta fetches 403, as Eureka refuses them until it has copied
(:mod:`eureka_embed.http.probes`).

Each instance is registered as a replication (so nothing is sent back), then the registry is
opened for traffic with the copied count as its expected clients. With no peer answering,
the node starts on its own store and says so. Unlike Eureka, a node never then refuses reads
(Eureka answers 403 for up to five minutes after an empty copy): every peer forwards its
writes from now on, heartbeats re-register whatever the node missed, and the peers reconcile
with it when they first reach it (:mod:`.reconcile`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eureka_embed.registry import Registry
from eureka_embed.replication.peer_copy import adopt, fetch_registry
from eureka_embed.replication.peer_node import PeerNode

__all__ = ["CopyResult", "copy_registry_from_peers"]

log = logging.getLogger(__name__)

_PURPOSE = "start-up copy"


@dataclass(frozen=True, slots=True)
class CopyResult:
    #: The peer copied from; None when none answered.
    source: str | None
    instances: int


def copy_registry_from_peers(
    registry: Registry,
    peers: Sequence[PeerNode],
    on_peer: Callable[[str], None] | None = None,
) -> CopyResult:
    """Copy from the first of ``peers`` that serves its registry; try each once, in order.

    ``on_peer`` is told, before each peer is asked, which (for ``/readyz``'s reason)."""
    for number, peer in enumerate(peers, 1):
        if on_peer is not None:
            on_peer(f"asking {peer.url}, peer {number} of {len(peers)}")
        applications = fetch_registry(peer, _PURPOSE)
        if applications is None:
            continue
        copied = sum(adopt(registry, instance, _PURPOSE) for instance in applications.instances())
        # What the store now holds is what will renew: the copy, plus any durable leases.
        registry.open_for_traffic(registry.store.count())
        log.info("start-up copy: %d instances from %s", copied, peer.url)
        return CopyResult(peer.url, copied)
    if peers:
        log.warning("start-up copy: no peer answered; starting with this node's own registry")
    return CopyResult(None, 0)
